"""The consumer ``attachments.tickets``: every ``ticket.*`` event updates the local copy."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from attachments.tickets.service import upsert_snapshot
from helpdesk_common.consumer import Consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from helpdesk_common.contracts.tickets import TicketEvent

CONSUMER = "attachments.tickets"


async def remember_ticket(
    session: AsyncSession, envelope: EventEnvelope, payload: EventPayload
) -> None:
    assert isinstance(payload, TicketEvent)
    await upsert_snapshot(session, ticket=payload.ticket)


def tickets_consumer() -> Consumer:
    consumer = Consumer(CONSUMER)
    for event_type in SUBSCRIPTIONS[CONSUMER]:
        consumer.on(event_type)(remember_ticket)
    return consumer
