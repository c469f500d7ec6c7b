"""Identity events -> local copies of units and users (consumer ``tickets.identity``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.consumer import Consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.identity import UnitSnapshot, UserSnapshot
from tickets.directory.service import upsert_unit, upsert_user

CONSUMER_NAME = "tickets.identity"


def identity_consumer() -> Consumer:
    consumer = Consumer(name=CONSUMER_NAME)

    async def on_user(session: AsyncSession, _: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, UserSnapshot)
        await upsert_user(session, snapshot=payload)

    async def on_unit(session: AsyncSession, _: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, UnitSnapshot)
        await upsert_unit(session, snapshot=payload)

    for event_type in ("user.created", "user.updated", "user.deactivated"):
        consumer.on(event_type)(on_user)
    for event_type in ("unit.created", "unit.updated"):
        consumer.on(event_type)(on_unit)
    return consumer
