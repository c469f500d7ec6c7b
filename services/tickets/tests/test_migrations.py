"""Migrations: the directory tables of an upgraded schema keep their rows and take the shape
every consuming service shares (helpdesk_common.directory)."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

import tickets
from helpdesk_common.db import create_engine
from helpdesk_common.directory import directory_schema_differences
from tickets.settings import TicketsSettings

MIGRATIONS = Path(tickets.__file__).parent / "migrations"


def _upgrade(connection: Connection, schema: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["schema"] = schema
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_the_directory_keeps_its_rows_and_takes_the_shared_shape(make_settings):
    schema = f"tickets_mig_{uuid.uuid4().hex[:8]}"
    engine = create_engine(make_settings(TicketsSettings, schema=schema))
    user_id, unit_id = uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            await connection.run_sync(_upgrade, schema, "0001")
            await connection.execute(
                sa.text(
                    "INSERT INTO units (id, code, name, is_active, revision, updated_at)"
                    " VALUES (:unit, 'DISDIK', 'Dinas Pendidikan', true, 7, now());"
                ),
                {"unit": unit_id},
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO users (id, username, full_name, email, role, unit_id,"
                    " is_active, language, revision, updated_at) VALUES (:user, 'dewi',"
                    " 'Dewi', NULL, 'agent', :unit, false, 'en', 3, now())"
                ),
                {"user": user_id, "unit": unit_id},
            )
            await connection.run_sync(_upgrade, schema, "head")
            await connection.commit()

            assert await connection.run_sync(directory_schema_differences) == []
            unit = (await connection.execute(sa.text("SELECT name, revision FROM units"))).one()
            assert tuple(unit) == ("Dinas Pendidikan", 7)
            user = (
                await connection.execute(
                    sa.text("SELECT id, unit_id, is_active, language, revision FROM users")
                )
            ).one()
            assert tuple(user) == (user_id, unit_id, False, "en", 3)
    finally:
        await engine.dispose()
