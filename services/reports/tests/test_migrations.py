"""The migrations create exactly what the models declare, the shared directory included."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from helpdesk_common.directory import directory_schema_differences
from reports.models import metadata

from .conftest import Reports

MESSAGING_TABLES = {"outbox", "inbox", "alembic_version"}


def _differences(connection: Connection) -> list[object]:
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
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_models(reports: Reports) -> None:
    async with reports.app.state.runtime.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
        assert await connection.run_sync(directory_schema_differences) == []
