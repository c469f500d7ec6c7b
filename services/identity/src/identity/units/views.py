"""Units (SKPD).

Reading: any signed-in user may list units (a requester's form needs the names); a
requester sees the contact person only of their own unit (personal data, PDP law) and may
open only their own unit. Changing: administrators only.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from helpdesk_common.auth import CurrentUser, Principal, require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.errors import ApiError
from helpdesk_common.idempotency import IdempotentRoute
from helpdesk_common.pagination import CursorQuery, Page
from helpdesk_common.responses import errors
from identity.listing import DEFAULT_LIMIT, Limit
from identity.models import Unit
from identity.units import service
from identity.units.schemas import UnitCreate, UnitOut, UnitUpdate
from identity.validation import reject_nulls

router = APIRouter(prefix="/units", tags=["units"], route_class=IdempotentRoute)

AdminUser = Annotated[Principal, Depends(require_roles("admin"))]


def _visible(unit: Unit, principal: Principal) -> UnitOut:
    out = UnitOut.model_validate(unit)
    if principal.is_staff or out.id == principal.unit_id:
        return out
    return out.model_copy(update={"contact_name": None, "contact_email": None})


_CODE_TAKEN = "A unit with this code exists (`unit_code_taken`)"


@router.get("")
async def list_units(
    principal: CurrentUser,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: Limit = DEFAULT_LIMIT,
    is_active: bool | None = None,
    q: str | None = None,
) -> Page[UnitOut]:
    """Ordered by name (then id); ``q`` searches code and name. Pass ``next_cursor`` back
    as ``cursor`` for the next page (null on the last)."""
    async with session.begin():
        units, next_cursor = await service.list_units(
            session, cursor=cursor, limit=limit, is_active=is_active, q=q
        )
    return Page(items=[_visible(u, principal) for u in units], next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409, s409=_CODE_TAKEN))
async def create_unit(body: UnitCreate, admin: AdminUser, session: SessionDep) -> UnitOut:
    async with session.begin():
        unit = await service.create_unit(session, actor=admin, fields=body.model_dump())
    return UnitOut.model_validate(unit)


@router.get("/{unit_id}", responses=errors(403))
async def get_unit(unit_id: uuid.UUID, principal: CurrentUser, session: SessionDep) -> UnitOut:
    if not principal.is_staff and principal.unit_id != unit_id:
        raise ApiError(403, "forbidden", "You may only view your own unit")
    async with session.begin():
        unit = await service.get_unit(session, unit_id=unit_id)
    return UnitOut.model_validate(unit)


@router.patch("/{unit_id}", responses=errors(409, s409=_CODE_TAKEN))
async def update_unit(
    unit_id: uuid.UUID, body: UnitUpdate, admin: AdminUser, session: SessionDep
) -> UnitOut:
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, fields=("code", "name", "is_active"))
    async with session.begin():
        unit = await service.update_unit(session, actor=admin, unit_id=unit_id, changes=changes)
    return UnitOut.model_validate(unit)
