"""The migrations create exactly what the models declare, the shared directory included."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from helpdesk_common.db import create_engine
from helpdesk_common.directory import directory_schema_differences
from helpdesk_common.migrations import upgrade_to_head
from helpdesk_testing.migrations import model_differences
from reports.main import MIGRATIONS
from reports.models import metadata
from reports.settings import ReportsSettings

from .conftest import Reports


async def test_migrations_match_the_models(reports: Reports) -> None:
    async with reports.app.state.runtime.engine.connect() as connection:
        assert await connection.run_sync(model_differences, metadata) == []
        assert await connection.run_sync(directory_schema_differences) == []


async def test_the_migration_is_undone_and_redone(
    make_settings: Callable[..., Any],
) -> None:
    schema = f"reports_mig_{uuid.uuid4().hex[:8]}"
    engine = create_engine(make_settings(ReportsSettings, schema=schema))
    try:
        await upgrade_to_head(engine=engine, script_location=MIGRATIONS, schema=schema)
        async with engine.begin() as connection:
            await connection.run_sync(_run, "downgrade", "base")
            left = await connection.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = :s AND table_name <> 'alembic_version'"
                ),
                {"s": schema},
            )
            assert left.all() == []
            await connection.run_sync(_run, "upgrade", "head")
            assert await connection.run_sync(model_differences, metadata) == []
    finally:
        async with engine.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


def _run(connection: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["schema"] = connection.execute(sa.text("SELECT current_schema()")).scalar()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)
