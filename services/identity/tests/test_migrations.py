"""The migrations create exactly what the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from helpdesk_testing import app_client
from identity.main import create_app
from identity.models import Base


async def test_migrated_schema_matches_the_models(identity_settings):
    app = create_app(identity_settings("identity_migrations"))
    async with app_client(app), app.state.runtime.engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    # The outbox, inbox and idempotency keys belong to helpdesk_common's metadata, not to
    # the models.
    common = ("outbox", "inbox", "idempotency_keys")
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name in common)]
    diff = [d for d in diff if not (d[0] == "remove_index" and d[1].table.name in common)]
    assert diff == []
