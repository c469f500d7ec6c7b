"""PostgreSQL LISTEN on a connection of its own, kept open across database restarts.

A NOTIFY is delivered at its transaction's commit to every connection listening then, so it
tells every process (every replica, every uvicorn worker) that something committed: the
reports' read model changed, the tickets' master data changed. What is sent while a process
is not listening is lost to it, so ``on_connected`` runs after each (re)connection: the
process must then assume that anything may have changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from helpdesk_common.settings import ServiceSettings

log = logging.getLogger("helpdesk.pgnotify")


async def listen(
    settings: ServiceSettings,
    channel: str,
    *,
    on_notify: Callable[[str], None],
    on_connected: Callable[[], None],
    retry_seconds: float = 2.0,
) -> None:
    """LISTEN on ``channel`` until cancelled, calling ``on_notify(payload)`` for each
    notification; reconnects (calling ``on_connected`` again) after the connection is lost."""
    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    def notified(_: object, __: int, ___: str, payload: object) -> None:
        on_notify(str(payload))

    while True:
        try:
            connection = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot listen on %s yet: %r", channel, exc)
            await asyncio.sleep(retry_seconds)
            continue
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _, lost=lost: lost.set())
        try:
            await connection.add_listener(channel, notified)
            on_connected()
            await lost.wait()
            log.warning("lost the LISTEN connection on %s; reconnecting", channel)
        finally:
            if not connection.is_closed():
                await connection.close()
