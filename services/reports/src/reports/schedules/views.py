"""Scheduled reports over HTTP (gateway: /api/reports/schedules): leaders and administrators
subscribe to a report sent by e-mail every week or month."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from helpdesk_common.auth import CurrentUser, require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.idempotency import IdempotentRoute
from helpdesk_common.pagination import CursorQuery, Page
from reports.runtime import RuntimeDep
from reports.schedules import periods, service
from reports.schedules.models import ReportRun, ReportSchedule
from reports.schedules.schemas import (
    RecipientOut,
    RunOut,
    ScheduleCreate,
    ScheduleFilters,
    ScheduleOptions,
    ScheduleOut,
    ScheduleUpdate,
)
from reports.schedules.service import Timing

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/schedules",
    tags=["schedules"],
    dependencies=[Depends(require_roles("leader", "admin"))],
)

LimitQuery = Annotated[int, Query(ge=1, le=100)]


def _out(schedule: ReportSchedule) -> ScheduleOut:
    cadence = service.cadence_of(schedule)
    return ScheduleOut(
        id=schedule.id,
        owner_id=schedule.owner_id,
        owner_name=schedule.owner_name,
        name=schedule.name,
        report=schedule.report,
        cadence=cadence,
        filters=ScheduleFilters.model_validate(schedule.filters),
        options=ScheduleOptions.model_validate(schedule.options),
        recipient_ids=list(schedule.recipient_ids),
        language="en" if schedule.language == "en" else "id",
        is_active=schedule.is_active,
        next_period_from=schedule.next_period_from,
        next_period_to=periods.period_last(schedule.next_period_from, cadence),
        due_at=schedule.due_at,
        last_error=schedule.last_error,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
        version=schedule.version,
    )


def _run_out(run: ReportRun) -> RunOut:
    return RunOut.model_validate(run, from_attributes=True)


@router.get("/recipients")
async def recipients(session: SessionDep) -> list[RecipientOut]:
    """Who may receive scheduled reports: active agents, leaders and administrators with an
    e-mail address."""
    async with session.begin():
        users = await service.candidate_recipients(session)
    return [
        RecipientOut(id=u.id, full_name=u.full_name, role=u.role, email=u.email or "")
        for u in users
    ]


@router.get("")
async def list_schedules(
    principal: CurrentUser, session: SessionDep, cursor: CursorQuery = None, limit: LimitQuery = 50
) -> Page[ScheduleOut]:
    """Your schedules (an administrator: everyone's), newest first."""
    async with session.begin():
        rows, next_cursor = await service.list_schedules(
            session, principal=principal, cursor=cursor, limit=limit
        )
        return Page(items=[_out(s) for s in rows], next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_schedule(
    body: ScheduleCreate, principal: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> ScheduleOut:
    """Subscribe: the first report covers the current week or month and is sent when it
    ends (``due_at``)."""
    async with session.begin():
        schedule = await service.create_schedule(
            session,
            principal=principal,
            data=body,
            timing=Timing.of(runtime.settings),
            now=datetime.now(UTC),
        )
        return _out(schedule)


# ``:uuid``: "/recipients" is not a schedule, so another method on it is a 405 (with the
# methods it takes), not a 422 for a malformed id.
@router.get("/{schedule_id:uuid}")
async def get_schedule(
    schedule_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> ScheduleOut:
    async with session.begin():
        return _out(
            await service.get_schedule(session, principal=principal, schedule_id=schedule_id)
        )


@router.patch("/{schedule_id:uuid}")
async def update_schedule(
    schedule_id: uuid.UUID,
    body: ScheduleUpdate,
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ScheduleOut:
    """Change a schedule (412 ``version_mismatch`` when ``version`` is not the current one,
    as for tickets).
    Switched back on, or to another cadence, it starts again with the current period."""
    async with session.begin():
        schedule = await service.update_schedule(
            session,
            principal=principal,
            schedule_id=schedule_id,
            data=body,
            timing=Timing.of(runtime.settings),
            now=datetime.now(UTC),
        )
        return _out(schedule)


@router.delete("/{schedule_id:uuid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(
    schedule_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> Response:
    """Unsubscribe (the run history goes with it)."""
    async with session.begin():
        await service.delete_schedule(session, principal=principal, schedule_id=schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{schedule_id:uuid}/runs")
async def list_runs(
    schedule_id: uuid.UUID,
    principal: CurrentUser,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[RunOut]:
    """What was sent for each period, newest first."""
    async with session.begin():
        rows, next_cursor = await service.list_runs(
            session, principal=principal, schedule_id=schedule_id, cursor=cursor, limit=limit
        )
        return Page(items=[_run_out(r) for r in rows], next_cursor=next_cursor)
