"""The driver's connection of a session's transaction (hot paths' own SQL)."""

from __future__ import annotations

import uuid
from typing import Any

from helpdesk_common.db import create_engine, create_sessionmaker, driver_connection
from helpdesk_common.settings import ServiceSettings


async def test_the_connection_is_kept_for_its_transaction_only(make_settings: Any) -> None:
    settings = make_settings(ServiceSettings, schema=f"db_conn_{uuid.uuid4().hex[:6]}")
    engine = create_engine(settings, pooled=False)  # each transaction on a new connection
    try:
        async with create_sessionmaker(engine)() as session:
            async with session.begin():
                first = await driver_connection(session)
                assert first.is_in_transaction()
                assert await driver_connection(session) is first
            async with session.begin():
                second = await driver_connection(session)
                assert second is await driver_connection(session)
                assert second is not first
                assert await second.fetchval("SELECT 1") == 1
    finally:
        await engine.dispose()
