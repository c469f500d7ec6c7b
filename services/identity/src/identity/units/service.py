"""Units (SKPD): create, change, list. Every change publishes a snapshot and is audited."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import UnitCreated, UnitUpdated
from helpdesk_common.errors import NotFound
from helpdesk_common.pagination import (
    after,
    cursor_text,
    cursor_uuid,
    decode_cursor,
    encode_cursor,
    page_of,
)
from identity.audit.service import record
from identity.errors import flush_or_conflict
from identity.events import publish_unit, unit_json
from identity.listing import contains
from identity.models import Unit, utcnow


async def get_unit(session: AsyncSession, *, unit_id: uuid.UUID, for_update: bool = False) -> Unit:
    query = sa.select(Unit).where(Unit.id == unit_id)
    if for_update:
        # Serialises concurrent changes so that revisions strictly increase.
        query = query.with_for_update()
    unit = await session.scalar(query)
    if unit is None:
        raise NotFound("unit_not_found", "No such unit")
    return unit


async def create_unit(
    session: AsyncSession, *, actor: Principal | None, fields: dict[str, Any]
) -> Unit:
    now = utcnow()
    unit = Unit(id=uuid.uuid4(), revision=1, created_at=now, updated_at=now, **fields)
    session.add(unit)
    await flush_or_conflict(session)
    await publish_unit(session, unit, event=UnitCreated)
    await record(
        session,
        actor=actor,
        action="unit.created",
        entity_type="unit",
        entity_id=unit.id,
        after=unit_json(unit),
    )
    return unit


async def update_unit(
    session: AsyncSession, *, actor: Principal, unit_id: uuid.UUID, changes: dict[str, Any]
) -> Unit:
    """Apply ``changes``; a request that changes nothing leaves no event and no audit entry."""
    unit = await get_unit(session, unit_id=unit_id, for_update=True)
    changed = {k: v for k, v in changes.items() if getattr(unit, k) != v}
    if not changed:
        return unit
    before = unit_json(unit)
    for key, value in changed.items():
        setattr(unit, key, value)
    unit.revision += 1
    unit.updated_at = utcnow()
    await flush_or_conflict(session)
    await publish_unit(session, unit, event=UnitUpdated)
    action = "unit.deactivated" if changed.get("is_active") is False else "unit.updated"
    await record(
        session,
        actor=actor,
        action=action,
        entity_type="unit",
        entity_id=unit.id,
        before=before,
        after=unit_json(unit),
    )
    return unit


async def list_units(
    session: AsyncSession,
    *,
    cursor: str | None,
    limit: int,
    is_active: bool | None = None,
    q: str | None = None,
) -> tuple[list[Unit], str | None]:
    """One page ordered by name (then id) and the cursor of the next, if any."""
    order = (Unit.name, Unit.id)
    query = sa.select(Unit).order_by(*order)
    if cursor:
        position = decode_cursor(cursor, listing="units", parse=(cursor_text, cursor_uuid))
        query = query.where(after(order, position, descending=False))
    if is_active is not None:
        query = query.where(Unit.is_active == is_active)
    if q:
        query = query.where(sa.or_(contains(Unit.code, q), contains(Unit.name, q)))
    rows = (await session.scalars(query.limit(limit + 1))).all()
    return page_of(rows, limit=limit, cursor_after=lambda u: encode_cursor("units", u.name, u.id))
