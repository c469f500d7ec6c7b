"""The consumer ``tickets.attachments``: the attachments service's ``attachment.*`` events
kept in ``ticket_attachments`` and written on the ticket's timeline."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.consumer import Consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.attachments import (
    AttachmentAdded,
    AttachmentQuarantined,
    AttachmentRemoved,
)
from tickets.attachments import service

CONSUMER_NAME = "tickets.attachments"


async def _on_added(session: AsyncSession, envelope: EventEnvelope, payload: EventPayload) -> None:
    assert isinstance(payload, AttachmentAdded)
    await service.record_added(session, event=payload, at=envelope.occurred_at)


async def _on_removed(
    session: AsyncSession, envelope: EventEnvelope, payload: EventPayload
) -> None:
    assert isinstance(payload, AttachmentRemoved)
    await service.record_removed(session, event=payload, at=envelope.occurred_at)


async def _on_quarantined(
    session: AsyncSession, envelope: EventEnvelope, payload: EventPayload
) -> None:
    assert isinstance(payload, AttachmentQuarantined)
    await service.record_quarantined(session, event=payload, at=envelope.occurred_at)


def build_consumer() -> Consumer:
    # One event per transaction (the default): files arrive at the pace people upload them.
    consumer = Consumer(name=CONSUMER_NAME)
    consumer.on(AttachmentAdded.event_type)(_on_added)
    consumer.on(AttachmentRemoved.event_type)(_on_removed)
    consumer.on(AttachmentQuarantined.event_type)(_on_quarantined)
    return consumer
