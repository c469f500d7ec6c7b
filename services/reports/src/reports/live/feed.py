"""Changes to the read model, heard from PostgreSQL and fanned out to this replica's streams.

The projection sends ``NOTIFY reports_changed`` in its transaction (delivered at commit, by
whichever replica projected), naming the units whose figures changed; every replica LISTENs
on a connection of its own, so each browser hears of every change whichever replica it is
connected to.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from helpdesk_common import pgnotify
from reports.readmodel.store import CHANGED_CHANNEL
from reports.settings import ReportsSettings

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
    await pgnotify.listen(
        settings,
        CHANGED_CHANNEL,
        on_notify=feed.publish,
        # Changes made while not listening are unknown: tell every stream to refresh.
        on_connected=lambda: feed.publish(ALL_UNITS),
    )
