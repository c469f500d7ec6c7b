"""Snapshots of users and units: the payload of their events and of the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common import standing
from helpdesk_common.contracts.identity import (
    UnitSnapshot,
    UnitUpdated,
    UserSnapshot,
    UserUpdated,
)
from helpdesk_common.outbox import add_event
from identity.models import Unit, User

PRODUCER = "identity"


def user_fields(user: User) -> dict[str, Any]:
    return {
        "user_id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "role": user.role,
        "unit_id": user.unit_id,
        "is_active": user.is_active,
        "language": user.language,
        "revision": user.revision,
        "updated_at": user.updated_at,
    }


def unit_fields(unit: Unit) -> dict[str, Any]:
    return {
        "unit_id": unit.id,
        "code": unit.code,
        "name": unit.name,
        "contact_name": unit.contact_name,
        "contact_email": unit.contact_email,
        "is_active": unit.is_active,
        "revision": unit.revision,
        "updated_at": unit.updated_at,
    }


def user_json(user: User) -> dict[str, Any]:
    return UserSnapshot(**user_fields(user)).model_dump(mode="json")


def unit_json(unit: Unit) -> dict[str, Any]:
    return UnitSnapshot(**unit_fields(unit)).model_dump(mode="json")


async def publish_user(
    session: AsyncSession, user: User, *, event: type[UserSnapshot] = UserUpdated
) -> None:
    """Queue the user's snapshot as ``event`` in the current transaction (outbox), and have
    every identity process re-read the user's standing at the commit (the other services
    do when their directory replica stores the snapshot)."""
    await add_event(session, event(**user_fields(user)), producer=PRODUCER)
    await standing.announce(session, user.id)


async def publish_unit(
    session: AsyncSession, unit: Unit, *, event: type[UnitSnapshot] = UnitUpdated
) -> None:
    await add_event(session, event(**unit_fields(unit)), producer=PRODUCER)
