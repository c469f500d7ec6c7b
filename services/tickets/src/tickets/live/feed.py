"""Ticket changes heard on the event bus and fanned out to this replica's open streams.

Each replica binds a queue of its own (exclusive: it goes when the replica goes) to the
ticket and attachment events the services already publish, so every browser hears of every
change whichever replica it is connected to. A stream that falls behind, and every stream
after the broker connection was lost (changes may have been missed), is told to resync:
the browser fetches again rather than trusting a partial picture.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from prometheus_client import Counter, Gauge

from helpdesk_common.auth import Principal
from helpdesk_common.bus import Bus, declare_exchange
from helpdesk_common.contracts.identity import INTERNAL_ROLES
from helpdesk_common.settings import ServiceSettings

log = logging.getLogger("tickets.live")

EVENT_PATTERNS = ("ticket.*", "attachment.*")
# Seen only by IT staff (and leaders): a requester's stream never mentions them.
STAFF_ONLY_EVENTS = frozenset({"ticket.sla_warning", "ticket.sla_breached", "ticket.escalated"})

STREAMS_OPEN = Gauge("tickets_live_streams", "Open server-sent event streams of ticket changes")
CHANGES_SENT = Counter("tickets_live_changes_total", "Ticket changes heard on the bus for streams")
RESYNCS = Counter(
    "tickets_live_resyncs_total", "Streams told to fetch again, by reason", ["reason"]
)


@dataclass(frozen=True)
class TicketChange:
    """What a stream tells: which ticket changed, how (the event type), to which version."""

    ticket_id: uuid.UUID
    number: str | None
    version: int | None
    event: str
    unit_id: uuid.UUID | None
    internal: bool

    def visible_to(self, principal: Principal) -> bool:
        """The API's unit scoping: a requester hears only of their unit's public changes."""
        if principal.role in INTERNAL_ROLES:
            return True
        if self.internal or self.event in STAFF_ONLY_EVENTS:
            return False
        return self.unit_id is not None and self.unit_id == principal.unit_id

    @cached_property
    def message(self) -> str:
        """The server-sent event, formatted once for every stream that gets it."""
        data = {
            "id": str(self.ticket_id),
            "number": self.number,
            "version": self.version,
            "event": self.event,
        }
        return f"event: ticket\ndata: {json.dumps(data)}\n\n"


def change_from_envelope(body: bytes) -> TicketChange | None:
    """The change an event describes, or None for a message that is not one."""
    try:
        envelope = json.loads(body)
        event_type: str = envelope["event_type"]
        payload: dict[str, Any] = envelope["payload"]
        ticket: dict[str, Any] = payload["ticket"]
        ticket_id = uuid.UUID(str(ticket.get("id") or ticket.get("ticket_id")))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    unit = ticket.get("unit_id")
    version = ticket.get("version") if event_type.startswith("ticket.") else None
    return TicketChange(
        ticket_id=ticket_id,
        number=ticket.get("number"),
        version=version if isinstance(version, int) else None,
        event=event_type,
        unit_id=uuid.UUID(unit) if isinstance(unit, str) else None,
        internal=bool(payload.get("internal")),
    )


RESYNC = None  # put on a stream's queue: fetch everything again


class Recheck:
    """Put on a stream's queue when its user's standing changed: the stream checks whether
    its token still counts (and ends if not) without waiting for a change or a heartbeat."""


RECHECK = Recheck()


@dataclass(eq=False)
class Subscriber:
    """One open stream: its caller and the changes not yet sent to it."""

    principal: Principal
    queue: asyncio.Queue[TicketChange | Recheck | None]


@dataclass(eq=False)
class LiveHub:
    """This replica's open streams; ``publish`` hands a change to each that may see it."""

    backlog: int = 200
    subscribers: set[Subscriber] = field(default_factory=set)

    def subscribe(self, principal: Principal) -> Subscriber:
        subscriber = Subscriber(principal, asyncio.Queue(maxsize=self.backlog))
        self.subscribers.add(subscriber)
        STREAMS_OPEN.set(len(self.subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        STREAMS_OPEN.set(len(self.subscribers))

    def publish(self, change: TicketChange) -> None:
        CHANGES_SENT.inc()
        for subscriber in self.subscribers:
            if change.visible_to(subscriber.principal):
                self._offer(subscriber, change, reason="backlog")

    def resync_all(self, *, reason: str) -> None:
        for subscriber in self.subscribers:
            self._offer(subscriber, RESYNC, reason=reason)

    def standing_changed(self, user_ids: set[uuid.UUID] | None) -> None:
        """Users' standing changed (None: anyone's may have): their streams check at once
        whether their tokens still count (helpdesk_common.standing), so a page learns of a
        role change now rather than at the next heartbeat."""
        for subscriber in self.subscribers:
            if user_ids is None or subscriber.principal.user_id in user_ids:
                self._offer(subscriber, RECHECK, reason="backlog")

    @staticmethod
    def _offer(subscriber: Subscriber, item: TicketChange | Recheck | None, *, reason: str) -> None:
        try:
            subscriber.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A slow reader (or a burst): drop what is queued, ask it to fetch again.
            while not subscriber.queue.empty():
                subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(RESYNC)
            RESYNCS.labels(reason).inc()


async def listen(bus: Bus, settings: ServiceSettings, hub: LiveHub) -> None:
    """Consume this replica's queue of ticket changes until cancelled.

    The bus's robust connection declares the queue, its bindings and the consumer again
    after a reconnect; what was published meanwhile is lost to this queue, so every stream
    is told to resync then."""
    await bus.wait_connected()
    connection = bus.connection
    assert connection is not None  # connected
    channel = await connection.channel()
    exchange = await declare_exchange(channel, settings)
    name = settings.queue_name(f"tickets.live.{uuid.uuid4().hex[:12]}")
    queue = await channel.declare_queue(name, exclusive=True, auto_delete=True)
    for pattern in EVENT_PATTERNS:
        await queue.bind(exchange, routing_key=pattern)

    def reconnected(*_: object) -> None:
        log.info("broker connection back: streams resync")
        hub.resync_all(reason="reconnect")

    connection.reconnect_callbacks.add(reconnected)

    async def on_message(message: AbstractIncomingMessage) -> None:
        change = change_from_envelope(message.body)
        if change is not None:
            hub.publish(change)

    try:
        await queue.consume(on_message, no_ack=True)
        await asyncio.Future()  # until cancelled
    finally:
        connection.reconnect_callbacks.discard(reconnected)
        if not channel.is_closed:
            await channel.close()
