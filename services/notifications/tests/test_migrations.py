"""The migrations create exactly what the models declare; an upgraded directory keeps its rows
and takes the shape every consuming service shares (helpdesk_common.directory)."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

import notifications
from helpdesk_common.db import create_engine
from helpdesk_common.directory import directory_schema_differences
from helpdesk_testing.migrations import model_differences
from notifications.models import metadata
from notifications.settings import NotificationsSettings

MIGRATIONS = Path(notifications.__file__).parent / "migrations"


async def test_migrations_match_the_models(service):
    async with service.app.state.runtime.engine.connect() as connection:
        diff = await connection.run_sync(model_differences, metadata)
    assert diff == []


def _upgrade(connection: Connection, schema: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["schema"] = schema
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_the_directory_keeps_its_rows_and_takes_the_shared_shape(make_settings):
    schema = f"notif_mig_{uuid.uuid4().hex[:8]}"
    engine = create_engine(
        make_settings(
            NotificationsSettings, schema=schema, secret_key="a-test-secret-that-is-long-enough"
        )
    )
    user_id, unit_id = uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            await connection.run_sync(_upgrade, schema, "0001")
            await connection.execute(
                sa.text(
                    "INSERT INTO directory_units (unit_id, code, name, contact_email, is_active,"
                    " revision, updated_at) VALUES (:unit, 'DISDIK', 'Dinas Pendidikan',"
                    " 'tu@disdik.go.id', true, 7, now())"
                ),
                {"unit": unit_id},
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO directory_users (user_id, username, full_name, email, role,"
                    " unit_id, is_active, language, revision, updated_at) VALUES (:user, 'dewi',"
                    " 'Dewi', NULL, 'agent', :unit, false, 'en', 3, now())"
                ),
                {"user": user_id, "unit": unit_id},
            )
            await connection.run_sync(_upgrade, schema, "head")
            await connection.commit()

            assert await connection.run_sync(directory_schema_differences) == []
            unit = (
                await connection.execute(sa.text("SELECT id, contact_email, revision FROM units"))
            ).one()
            assert tuple(unit) == (unit_id, "tu@disdik.go.id", 7)
            user = (
                await connection.execute(
                    sa.text("SELECT id, unit_id, is_active, language, revision FROM users")
                )
            ).one()
            assert tuple(user) == (user_id, unit_id, False, "en", 3)
    finally:
        await engine.dispose()
