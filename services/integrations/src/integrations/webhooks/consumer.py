"""The consumer ``integrations.webhooks``: each event it is subscribed to becomes one
delivery per enabled webhook that wants it (in the transaction of the event's inbox row, so
a redelivered event adds nothing).

The events are handled in the order they arrive, one batch at a time (``batch_size`` as
large as the prefetch: the consumer's batches run one after the other), so a ticket's events
are recorded in the order the tickets service published them; with several replicas, the
short ``settle`` before a new delivery is due lets an older event handled elsewhere at the
same moment be recorded first (the sender goes by the events' times).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.consumer import Consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from integrations.webhooks import service

CONSUMER_NAME = "integrations.webhooks"
BATCH_SIZE = 64  # >= the prefetch (32 by default): one batch at a time, in order


def webhooks_consumer(*, settle_seconds: float = 0.3) -> Consumer:
    settle = timedelta(seconds=settle_seconds)

    async def on_event(
        session: AsyncSession, envelope: EventEnvelope, payload: EventPayload
    ) -> None:
        await service.record_event(session, envelope=envelope, settle=settle)

    consumer = Consumer(CONSUMER_NAME, batch_size=BATCH_SIZE)
    for event_type in SUBSCRIPTIONS[CONSUMER_NAME]:
        consumer.on(event_type)(on_event)
    return consumer
