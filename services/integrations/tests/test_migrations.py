"""The integrations service's migrations undo cleanly and redo what the models declare."""

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
from integrations.main import MIGRATIONS
from integrations.models import metadata
from integrations.settings import IntegrationsSettings


def _run(connection: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["schema"] = connection.execute(sa.text("SELECT current_schema()")).scalar()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def test_the_migrations_are_undone_and_redone(make_settings: Callable[..., Any]) -> None:
    schema = f"integrations_mig_{uuid.uuid4().hex[:8]}"
    engine = create_engine(make_settings(IntegrationsSettings, schema=schema))
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
            assert await connection.run_sync(directory_schema_differences) == []
    finally:
        async with engine.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
