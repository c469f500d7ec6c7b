"""Master-data endpoints: anyone signed in reads them (forms need them); admins change them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auditlog import AuditFiltersDep
from helpdesk_common.auth import CurrentUser, Principal, require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.idempotency import IdempotentRoute
from helpdesk_common.inputs import MAX_DATE, MIN_DATE
from helpdesk_common.pagination import CursorQuery, Page
from helpdesk_common.responses import errors
from tickets.masterdata import auditlog, changes, service
from tickets.masterdata.schemas import (
    AuditOut,
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    HolidayIn,
    HolidayOut,
    OfficeHoursIn,
    OfficeHoursOut,
    PriorityCreate,
    PriorityOut,
    PriorityRuleIn,
    PriorityRuleOut,
    PriorityRuleUpdate,
    PriorityUpdate,
    SlaPolicyIn,
    SlaPolicyOut,
)
from tickets.runtime import RuntimeDep, TicketsRuntime

router = APIRouter(tags=["master data"], route_class=IdempotentRoute)
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Staff = Annotated[Principal, Depends(require_roles("agent", "admin", "leader"))]
Env = RuntimeDep
T = TypeVar("T")


async def _admin_change(
    session: AsyncSession, env: TicketsRuntime, change: Callable[..., Awaitable[T]], **kwargs: Any
) -> T:
    """Run an administrator's change in its own transaction; at its commit every process
    drops its master-data cache (this one at once, the others when they hear the NOTIFY)."""
    async with session.begin():
        result = await change(session, **kwargs)
        await changes.announce(session, env.settings)
    env.masterdata.invalidate()
    return result


# -- priorities and SLA policies --------------------------------------------------------


@router.get("/priorities")
async def list_priorities(_: CurrentUser, session: SessionDep) -> list[PriorityOut]:
    return await service.list_priorities(session)


@router.post("/priorities", responses=errors(409), status_code=201)
async def create_priority(
    body: PriorityCreate, admin: Admin, session: SessionDep, env: Env
) -> PriorityOut:
    return await _admin_change(session, env, service.create_priority, actor=admin, data=body)


@router.patch("/priorities/{code}", responses=errors(409))
async def update_priority(
    code: str, body: PriorityUpdate, admin: Admin, session: SessionDep, env: Env
) -> PriorityOut:
    return await _admin_change(
        session, env, service.update_priority, actor=admin, code=code, data=body
    )


@router.get("/sla-policies")
async def list_sla_policies(_: CurrentUser, session: SessionDep) -> list[SlaPolicyOut]:
    return await service.list_sla_policies(session)


@router.put("/sla-policies/{priority}")
async def put_sla_policy(
    priority: str, body: SlaPolicyIn, admin: Admin, session: SessionDep, env: Env
) -> SlaPolicyOut:
    return await _admin_change(
        session, env, service.put_sla_policy, actor=admin, priority=priority, data=body
    )


# -- categories (jenis pekerjaan) -------------------------------------------------------


@router.get("/categories")
async def list_categories(
    _: CurrentUser, session: SessionDep, include_inactive: Annotated[bool, Query()] = False
) -> list[CategoryOut]:
    return await service.list_categories(session, include_inactive=include_inactive)


@router.post("/categories", responses=errors(409), status_code=201)
async def create_category(
    body: CategoryCreate, admin: Admin, session: SessionDep, env: Env
) -> CategoryOut:
    return await _admin_change(session, env, service.create_category, actor=admin, data=body)


@router.patch("/categories/{category_id}", responses=errors(409))
async def update_category(
    category_id: uuid.UUID, body: CategoryUpdate, admin: Admin, session: SessionDep, env: Env
) -> CategoryOut:
    return await _admin_change(
        session, env, service.update_category, actor=admin, category_id=category_id, data=body
    )


@router.delete("/categories/{category_id}", status_code=204)
async def deactivate_category(
    category_id: uuid.UUID, admin: Admin, session: SessionDep, env: Env
) -> Response:
    """Categories are referenced by tickets: "deleting" one deactivates it."""
    data = CategoryUpdate(is_active=False)
    await _admin_change(
        session, env, service.update_category, actor=admin, category_id=category_id, data=data
    )
    return Response(status_code=204)


# -- calendar: office hours and holidays ------------------------------------------------


@router.get("/office-hours")
async def get_office_hours(_: CurrentUser, session: SessionDep, env: Env) -> OfficeHoursOut:
    days = await service.get_office_hours(session)
    return OfficeHoursOut(timezone=env.settings.timezone, days=days)


@router.put("/office-hours")
async def replace_office_hours(
    body: OfficeHoursIn, admin: Admin, session: SessionDep, env: Env
) -> OfficeHoursOut:
    timezone = env.settings.timezone
    days = await _admin_change(
        session, env, service.replace_office_hours, actor=admin, data=body, timezone=timezone
    )
    return OfficeHoursOut(timezone=env.settings.timezone, days=days)


@router.get("/holidays")
async def list_holidays(
    _: CurrentUser,
    session: SessionDep,
    # The years a holiday may be in (HolidayIn's SafeDate): each one can be listed.
    year: Annotated[int | None, Query(ge=MIN_DATE.year, le=MAX_DATE.year)] = None,
) -> list[HolidayOut]:
    return await service.list_holidays(session, year=year)


@router.post("/holidays", responses=errors(409), status_code=201)
async def add_holiday(body: HolidayIn, admin: Admin, session: SessionDep, env: Env) -> HolidayOut:
    return await _admin_change(session, env, service.add_holiday, actor=admin, data=body)


@router.delete("/holidays/{holiday_id}", status_code=204)
async def delete_holiday(
    holiday_id: uuid.UUID, admin: Admin, session: SessionDep, env: Env
) -> Response:
    await _admin_change(session, env, service.delete_holiday, actor=admin, holiday_id=holiday_id)
    return Response(status_code=204)


# -- automatic priority rules -----------------------------------------------------------


@router.get("/priority-rules")
async def list_rules(_: Staff, session: SessionDep) -> list[PriorityRuleOut]:
    return await service.list_rules(session)


@router.post("/priority-rules", status_code=201)
async def create_rule(
    body: PriorityRuleIn, admin: Admin, session: SessionDep, env: Env
) -> PriorityRuleOut:
    return await _admin_change(session, env, service.create_rule, actor=admin, data=body)


@router.patch("/priority-rules/{rule_id}")
async def update_rule(
    rule_id: uuid.UUID, body: PriorityRuleUpdate, admin: Admin, session: SessionDep, env: Env
) -> PriorityRuleOut:
    return await _admin_change(
        session, env, service.update_rule, actor=admin, rule_id=rule_id, data=body
    )


@router.delete("/priority-rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: uuid.UUID, admin: Admin, session: SessionDep, env: Env) -> Response:
    await _admin_change(session, env, service.delete_rule, actor=admin, rule_id=rule_id)
    return Response(status_code=204)


# -- audit log --------------------------------------------------------------------------


@router.get("/audit-log/actions")
async def audit_log_actions(_: Admin) -> list[str]:
    """Every action this log can hold: the action filter's choices (any other is a 422)."""
    return list(auditlog.ACTIONS)


@router.get("/audit-log")
async def audit_log(
    _: Admin,
    session: SessionDep,
    filters: AuditFiltersDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: CursorQuery = None,
) -> Page[AuditOut]:
    """Every change to master data, newest first, in pages (``next_cursor``), with the
    names of the actor, the entity and the ids in ``before``/``after``."""
    async with session.begin():
        entries, next_cursor = await auditlog.list_audit(
            session,
            limit=limit,
            cursor=cursor,
            filters=filters,
        )
        names = await auditlog.names_of(session, entries)
    items = [
        AuditOut(
            id=e.id,
            at=e.at,
            actor_id=e.actor_id,
            actor_name=auditlog.actor_name(e, names),
            action=e.action,
            entity_type=auditlog.entity_type_of(e.action),
            entity_id=e.entity_id,
            entity_name=auditlog.entity_name(e, names),
            before=e.before,
            after=e.after,
            names=auditlog.field_names(e, names),
        )
        for e in entries
    ]
    return Page(items=items, next_cursor=next_cursor)
