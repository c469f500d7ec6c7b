"""The consumer ``reports``: every ``ticket.*`` event projected into the read model.

Each event carries the ticket's full snapshot just after the change, so every event type
is handled alike: the handlers only collect snapshots, and the consumer's flush projects the
whole batch at once (``store.apply_snapshots``) into every generation being written.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.consumer import Consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from helpdesk_common.contracts.tickets import TicketEvent, TicketSnapshot
from reports.readmodel.state import read_state
from reports.readmodel.store import apply_snapshots
from reports.settings import ReportsSettings

CONSUMER = "reports"
_PENDING = "reports.pending_snapshots"


async def _collect(session: AsyncSession, _: EventEnvelope, payload: EventPayload) -> None:
    assert isinstance(payload, TicketEvent)
    pending: list[TicketSnapshot] = session.info.setdefault(_PENDING, [])
    pending.append(payload.ticket)


def build_consumer(settings: ReportsSettings) -> Consumer:
    timezone = ZoneInfo(settings.timezone)

    async def project(session: AsyncSession) -> None:
        snapshots: list[TicketSnapshot] = session.info.pop(_PENDING, [])
        if not snapshots:
            return
        state = await read_state(session, lock="share")
        await apply_snapshots(session, snapshots, generations=state.written, timezone=timezone)

    consumer = Consumer(CONSUMER, batch_size=settings.consumer_batch_size, flush=project)
    for event_type in SUBSCRIPTIONS[CONSUMER]:
        consumer.on(event_type)(_collect)
    return consumer
