"""The consumer ``attachments.tickets``: every ``ticket.*`` event updates the local copy.

Each event carries the ticket's full snapshot, so every event type is handled alike: the
handler only collects the snapshot, and the consumer's flush writes the whole batch (the
events already waiting, up to ``consumer_batch_size``, in one transaction with their inbox
rows) in one statement, each ticket's newest version winning.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from attachments.tickets.service import upsert_snapshots
from helpdesk_common.consumer import Consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from helpdesk_common.contracts.tickets import TicketEvent, TicketSnapshot

CONSUMER = "attachments.tickets"
_PENDING = "attachments.pending_snapshots"


async def remember_ticket(
    session: AsyncSession, envelope: EventEnvelope, payload: EventPayload
) -> None:
    assert isinstance(payload, TicketEvent)
    pending: list[TicketSnapshot] = session.info.setdefault(_PENDING, [])
    pending.append(payload.ticket)


async def write_snapshots(session: AsyncSession) -> None:
    await upsert_snapshots(session, session.info.pop(_PENDING, []))


def tickets_consumer(*, batch_size: int = 1, linger: float = 0.0) -> Consumer:
    consumer = Consumer(CONSUMER, batch_size=batch_size, flush=write_snapshots, linger=linger)
    for event_type in SUBSCRIPTIONS[CONSUMER]:
        consumer.on(event_type)(remember_ticket)
    return consumer
