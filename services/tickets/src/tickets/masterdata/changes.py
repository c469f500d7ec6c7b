"""Every process hears of a master-data change at its commit.

Each process (replica, uvicorn worker) caches the master data (``MasterDataCache``). The
transaction of an administrator's change sends a NOTIFY on this service's channel; every
process LISTENs and drops its cache, so a category deactivated through one worker is refused
by all at once rather than after the cache's TTL (which remains the fallback should the
LISTEN connection be down).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common import pgnotify
from tickets.runtime import TicketsRuntime
from tickets.settings import TicketsSettings


def channel(settings: TicketsSettings) -> str:
    """One channel per schema: copies of the service side by side (tests) keep apart."""
    return f"masterdata_changed.{settings.schema_name}"


async def announce(session: AsyncSession, settings: TicketsSettings) -> None:
    """In the change's transaction: delivered to every listener when it commits."""
    await session.execute(sa.select(sa.func.pg_notify(channel(settings), "")))


async def follow_changes(runtime: TicketsRuntime) -> None:
    """Worker: drop this process's cache whenever any process commits a change (and after
    a reconnection, when changes may have gone unheard)."""
    cache = runtime.masterdata
    await pgnotify.listen(
        runtime.settings,
        channel(runtime.settings),
        on_notify=lambda _: cache.invalidate(),
        on_connected=cache.invalidate,
    )
