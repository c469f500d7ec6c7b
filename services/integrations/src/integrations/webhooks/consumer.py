"""The consumer ``integrations.webhooks``: each event it is subscribed to becomes one
delivery per enabled webhook that wants it (in the transaction of the event's inbox row, so
a redelivered event adds nothing)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.consumer import Consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from integrations.webhooks import service

CONSUMER_NAME = "integrations.webhooks"


async def _on_event(session: AsyncSession, envelope: EventEnvelope, payload: EventPayload) -> None:
    await service.record_event(session, envelope=envelope)


def webhooks_consumer() -> Consumer:
    consumer = Consumer(CONSUMER_NAME)
    for event_type in SUBSCRIPTIONS[CONSUMER_NAME]:
        consumer.on(event_type)(_on_event)
    return consumer
