"""The consumer ``<service>.directory``: identity's ``user.*``, ``unit.*`` and
``organisation.updated`` events."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.consumer import Consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.identity import OrganisationUpdated, UnitSnapshot, UserSnapshot
from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from helpdesk_common.directory.service import upsert_organisation, upsert_unit, upsert_user


def directory_consumer_name(service_name: str) -> str:
    return f"{service_name}.directory"


async def _on_user(session: AsyncSession, _: EventEnvelope, payload: EventPayload) -> None:
    if not isinstance(payload, UserSnapshot):
        raise TypeError(f"expected a user snapshot, got {type(payload).__name__}")
    await upsert_user(session, snapshot=payload)


async def _on_unit(session: AsyncSession, _: EventEnvelope, payload: EventPayload) -> None:
    if not isinstance(payload, UnitSnapshot):
        raise TypeError(f"expected a unit snapshot, got {type(payload).__name__}")
    await upsert_unit(session, snapshot=payload)


async def _on_organisation(session: AsyncSession, _: EventEnvelope, payload: EventPayload) -> None:
    if not isinstance(payload, OrganisationUpdated):
        raise TypeError(f"expected the organisation, got {type(payload).__name__}")
    await upsert_organisation(session, snapshot=payload)


def directory_consumer(service_name: str, *, batch_size: int = 1) -> Consumer:
    """The consumer that keeps ``service_name``'s copy of users and units current.

    Its name must be in :data:`~helpdesk_common.contracts.subscriptions.SUBSCRIPTIONS` (add the
    service to ``DIRECTORY_REPLICAS``), so every service declares its queue before it first runs.
    """
    name = directory_consumer_name(service_name)
    if name not in SUBSCRIPTIONS:
        raise ValueError(
            f"{name!r} is not in contracts.subscriptions: add {service_name!r} to"
            " DIRECTORY_REPLICAS"
        )
    consumer = Consumer(name=name, batch_size=batch_size)
    for event_type in ("user.created", "user.updated", "user.deactivated"):
        consumer.on(event_type)(_on_user)
    for event_type in ("unit.created", "unit.updated"):
        consumer.on(event_type)(_on_unit)
    consumer.on("organisation.updated")(_on_organisation)
    return consumer
