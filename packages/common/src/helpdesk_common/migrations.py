"""Alembic migrations applied on start, one schema per service.

Replicas starting together serialise on a PostgreSQL advisory lock, so a migration runs once.
A service's ``migrations/env.py`` is two lines: it calls :func:`run_env`.
"""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def _alembic_config(script_location: Path, database_url: str, schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def _lock_key(schema: str) -> int:
    return zlib.crc32(f"migrations:{schema}".encode())


async def upgrade_to_head(*, engine: AsyncEngine, script_location: Path, schema: str) -> None:
    """Create the schema if needed and apply every pending migration."""
    config = _alembic_config(script_location, engine.url.render_as_string(False), schema)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(schema)})
        try:
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await connection.commit()

            def _upgrade(sync_connection: Connection) -> None:
                config.attributes["connection"] = sync_connection
                command.upgrade(config, "head")

            await connection.run_sync(_upgrade)
            await connection.commit()
        finally:
            await connection.execute(
                text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(schema)}
            )
            await connection.commit()


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's ``migrations/env.py``."""
    config = context.config
    schema = config.attributes.get("schema") or target_metadata.schema

    def configure_and_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        configure_and_run(connection)
        return

    # Invoked from the alembic CLI (e.g. ``alembic revision --autogenerate``).
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic.ini has no sqlalchemy.url to generate migrations against")

    async def _run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool, hide_parameters=True)
        async with engine.connect() as conn:
            await conn.run_sync(configure_and_run)
            await conn.commit()
        await engine.dispose()

    asyncio.run(_run())
