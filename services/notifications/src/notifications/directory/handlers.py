"""Identity events keep the local directory current."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.consumer import Consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.identity import UnitSnapshot, UserSnapshot
from notifications.directory.service import upsert_unit, upsert_user


def register(consumer: Consumer) -> None:
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
