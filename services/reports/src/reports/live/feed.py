"""Changes to the read model, heard from PostgreSQL and fanned out to this replica's streams.

The projection sends ``NOTIFY reports_changed`` in its transaction (delivered at commit, by
whichever replica projected), naming the units whose figures changed; every replica LISTENs
on a connection of its own, so each browser hears of every change whichever replica it is
connected to.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

import asyncpg

from reports.readmodel.store import CHANGED_CHANNEL
from reports.settings import ReportsSettings

log = logging.getLogger("reports.live")

ALL_UNITS = "*"


@dataclass(eq=False)
class ChangeFeed:
    """The latest change: a sequence number and the units it touched."""

    seq: int = 0
    units: frozenset[str] = frozenset()
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, payload: str) -> None:
        self.seq += 1
        self.units = frozenset(payload.split(",")) if payload else frozenset({ALL_UNITS})
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, seen: int, *, timeout: float) -> int:
        """The sequence number after ``seen`` (returns ``seen`` on timeout)."""
        if self.seq != seen:
            return self.seq
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            return seen
        return self.seq

    def concerns(self, unit_id: uuid.UUID | None) -> bool:
        """Whether the latest change touched ``unit_id`` (None: any unit)."""
        return unit_id is None or ALL_UNITS in self.units or str(unit_id) in self.units


async def listen(settings: ReportsSettings, feed: ChangeFeed) -> None:
    """LISTEN until cancelled; reconnects after a database restart."""
    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    def on_notify(_: object, __: int, ___: str, payload: object) -> None:
        feed.publish(str(payload))

    while True:
        try:
            connection = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot listen for read-model changes yet: %r", exc)
            await asyncio.sleep(2)
            continue
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _, lost=lost: lost.set())
        try:
            await connection.add_listener(CHANGED_CHANNEL, on_notify)
            # Changes made while not listening are unknown: tell every stream to refresh.
            feed.publish(ALL_UNITS)
            await lost.wait()
            log.warning("lost the LISTEN connection; reconnecting")
        finally:
            if not connection.is_closed():
                await connection.close()
