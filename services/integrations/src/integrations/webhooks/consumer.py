"""The consumer ``integrations.webhooks``: each event it is subscribed to becomes one
delivery per enabled webhook that wants it (in the transaction of the event's inbox row, so
a redelivered event adds nothing).

The events are handled in the order they arrive, one batch at a time (``batch_size`` as
large as the prefetch: the consumer's batches run one after the other), so a ticket's events
are recorded in the order the tickets service published them; with several replicas, the
short ``settle`` before a new delivery is due lets an older event handled elsewhere at the
same moment be recorded first (the sender goes by the events' times).

The handlers only collect the events; the flush at the end of the batch's transaction reads
the webhooks wanting any of them once and inserts all their deliveries in one statement.
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
# A batch waits this long for more events unless full: steady events share a transaction.
# Small beside the settle, which a new delivery waits anyway.
LINGER_SECONDS = 0.05
_PENDING = "integrations.pending_events"


def webhooks_consumer(*, settle_seconds: float = 0.3) -> Consumer:
    settle = timedelta(seconds=settle_seconds)

    async def collect(
        session: AsyncSession, envelope: EventEnvelope, payload: EventPayload
    ) -> None:
        pending: list[EventEnvelope] = session.info.setdefault(_PENDING, [])
        pending.append(envelope)

    async def record(session: AsyncSession) -> None:
        await service.record_events(
            session, envelopes=session.info.pop(_PENDING, []), settle=settle
        )

    consumer = Consumer(CONSUMER_NAME, batch_size=BATCH_SIZE, flush=record, linger=LINGER_SECONDS)
    for event_type in SUBSCRIPTIONS[CONSUMER_NAME]:
        consumer.on(event_type)(collect)
    return consumer
