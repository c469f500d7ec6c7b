"""Read-only views of the local directory (helpdesk_common.directory), for pickers (unit on
behalf of, assignee)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from helpdesk_common import directory
from helpdesk_common.auth import Principal, require_roles
from helpdesk_common.db import SessionDep


class UnitOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    is_active: bool


class AgentOut(BaseModel):
    id: uuid.UUID
    full_name: str
    email: str | None


router = APIRouter(tags=["directory"])
Staff = Annotated[Principal, Depends(require_roles("agent", "admin", "leader"))]


@router.get("/units")
async def list_units(
    _: Staff, session: SessionDep, include_inactive: Annotated[bool, Query()] = False
) -> list[UnitOut]:
    units = await directory.list_units(session, include_inactive=include_inactive)
    return [UnitOut(id=u.id, code=u.code, name=u.name, is_active=u.is_active) for u in units]


@router.get("/agents")
async def list_agents(_: Staff, session: SessionDep) -> list[AgentOut]:
    agents = await directory.active_users(session, roles=["agent"])
    return [AgentOut(id=a.id, full_name=a.full_name, email=a.email) for a in agents]
