"""The hot paths' statements go to asyncpg directly, inside the session's own transaction.

Through SQLAlchemy (ORM or Core) a statement costs 0.1-0.4 ms of CPU before and after the
database's own work: building the construct, its cache key, parameter processing, result
rows and ORM objects. The event handler runs a few statements per event and the sender a
few per batch, at hundreds of mails a second on a small machine, so those few statements
are written in SQL against the driver connection that the session already holds. They run
in the session's transaction (committed or rolled back with it) and in the service's schema
(the connection's ``search_path``); asyncpg prepares each text once per connection.
Everything else keeps using the ORM.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection of ``session``'s transaction (which must have begun)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the database transaction with the first
        # statement; make it do so, so our statements cannot run outside of it.
        await connection.execute(sa.text("SELECT 1"))
        if not driver.is_in_transaction():
            raise RuntimeError("the session has no open database transaction")
    return driver
