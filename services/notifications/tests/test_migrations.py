"""The first migration creates exactly what the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from notifications.models import metadata

MESSAGING_TABLES = {"outbox", "inbox", "alembic_version"}


async def test_migrations_match_the_models(service):
    def differences(connection):
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": lambda obj, name, kind, reflected, compare_to: (
                    not (kind == "table" and name in MESSAGING_TABLES)
                    and not (kind == "index" and obj.table.name in MESSAGING_TABLES)
                ),
            },
        )
        return compare_metadata(context, metadata)

    async with service.app.state.runtime.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []
