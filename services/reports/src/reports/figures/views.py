"""The figures over HTTP (gateway: /api/reports/...).

Every endpoint takes the same period (``from``, ``to``: office-local dates, both whole
days) and filters (unit, category, priority, agent, channel).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import CurrentUser
from helpdesk_common.db import SessionDep
from helpdesk_common.errors import ApiError
from helpdesk_common.inputs import SafeDate
from helpdesk_common.pagination import CursorQuery
from helpdesk_common.responses import errors
from reports.figures import service
from reports.figures.period import GroupBy, Period, period_of
from reports.figures.queries import Dimension, Filters
from reports.figures.schemas import Breakdown, CompletedPage, Dimensions, Summary, Trend
from reports.runtime import RuntimeDep

router = APIRouter(tags=["reports"])


async def period_query(
    runtime: RuntimeDep,
    from_: Annotated[
        SafeDate | None,
        Query(alias="from", description="first day (office-local); default: 1st"),
    ] = None,
    to: Annotated[SafeDate | None, Query(description="last day, included; default: today")] = None,
) -> Period:
    return period_of(from_, to, timezone=ZoneInfo(runtime.settings.timezone))


async def filters_query(
    unit_id: uuid.UUID | None = None,
    category_id: uuid.UUID | None = None,
    priority: Annotated[str | None, Query(max_length=50)] = None,
    agent_id: uuid.UUID | None = None,
    channel: Annotated[str | None, Query(max_length=50)] = None,
) -> Filters:
    return Filters(
        unit_id=unit_id,
        category_id=category_id,
        priority=priority,
        agent_id=agent_id,
        channel=channel,
    )


PeriodDep = Annotated[Period, Depends(period_query)]
FiltersDep = Annotated[Filters, Depends(filters_query)]


@asynccontextmanager
async def report_transaction(
    session: AsyncSession, runtime: RuntimeDep, principal: CurrentUser, filters: Filters
) -> AsyncIterator[Filters]:
    """A read-only transaction under the statement timeout, with the caller's filters."""
    scoped = service.scoped(principal, filters)
    timeout_ms = int(runtime.settings.query_timeout_seconds * 1000)
    try:
        async with session.begin():
            await session.execute(sa.text(f"SET LOCAL statement_timeout = {timeout_ms}"))
            # Medians and p90 sort the period's durations: in memory, not on disk.
            await session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
            await session.execute(sa.text("SET TRANSACTION READ ONLY"))
            await service.check_filters(session, scoped)
            yield scoped
    except DBAPIError as exc:
        if "statement timeout" in str(exc.orig):
            raise ApiError(
                503, "report_timeout", "The report took too long; narrow the period or filters"
            ) from exc
        raise


@router.get("/summary", responses=errors(403))
async def summary(
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    period: PeriodDep,
    filters: FiltersDep,
) -> Summary:
    """Totals of the period: tickets by status, response and resolution times (mean,
    median, p90, working time), SLA compliance, escalations, reopen and rejection rates."""
    async with report_transaction(session, runtime, principal, filters) as scoped:
        return await service.summary(
            session,
            period=period,
            filters=scoped,
            exact_limit=runtime.settings.exact_percentile_limit,
        )


@router.get("/trend", responses=errors(403))
async def trend(
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    period: PeriodDep,
    filters: FiltersDep,
    group_by: GroupBy = "day",
) -> Trend:
    """The figures per day, week (from Monday), month or year, with the open backlog at
    the end of each."""
    async with report_transaction(session, runtime, principal, filters) as scoped:
        return await service.trend(session, period=period, filters=scoped, group_by=group_by)


@router.get("/breakdown", responses=errors(403))
async def breakdown(
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    period: PeriodDep,
    filters: FiltersDep,
    by: Dimension,
) -> Breakdown:
    """The figures per unit, category, priority, channel or agent (an agent's workload:
    assigned, open now, resolved, handling time)."""
    async with report_transaction(session, runtime, principal, filters) as scoped:
        return await service.breakdown(
            session,
            period=period,
            filters=scoped,
            by=by,
            exact_limit=runtime.settings.exact_percentile_limit,
        )


@router.get("/completed", responses=errors(403))
async def completed(
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    period: PeriodDep,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> CompletedPage:
    """The recap of completed work: tickets resolved in the period with their result
    summaries, newest first."""
    async with report_transaction(session, runtime, principal, filters) as scoped:
        return await service.completed_work(
            session, period=period, filters=scoped, limit=limit, cursor=cursor
        )


@router.get("/dimensions")
async def dimensions(principal: CurrentUser, session: SessionDep) -> Dimensions:
    """Units, categories, priorities, channels and agents the figures know, with names."""
    async with session.begin():
        return await service.dimensions(session, principal=principal)
