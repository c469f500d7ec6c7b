"""The figures: who may see what, checked filters, and the sums turned into figures.

Leaders, administrators and agents see every unit; a requester sees only their own unit
(a requester naming another unit is refused, never shown numbers).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.errors import InvalidInput, PermissionDenied
from helpdesk_common.pagination import cursor_datetime, cursor_uuid, decode_cursor, encode_cursor
from reports.figures import queries
from reports.figures.period import GroupBy, Period, bucket_of, buckets, next_bucket, today
from reports.figures.queries import Dimension, Durations, Filters, Percentiles
from reports.figures.schemas import (
    Breakdown,
    BreakdownRow,
    CompletedItem,
    CompletedPage,
    Dimensions,
    DurationFigures,
    Figures,
    Named,
    PeriodOut,
    SlaFigures,
    Summary,
    Trend,
    TrendPoint,
)
from reports.readmodel.histogram import Metric
from reports.readmodel.projection import MEASURES, NONE_ID, STATUSES
from reports.readmodel.state import active_generation

_COMPLETED = "completed"


def scoped(principal: Principal, filters: Filters) -> Filters:
    """The filters a caller may use: a requester's are pinned to their own unit."""
    if principal.role != "requester":
        return filters
    if principal.unit_id is None:
        raise PermissionDenied("no_unit", "Your account belongs to no unit: it has no reports")
    if filters.unit_id is not None and filters.unit_id != principal.unit_id:
        raise PermissionDenied(
            "unit_forbidden", "You may only see the reports of your own unit", field="unit_id"
        )
    return replace(filters, unit_id=principal.unit_id)


async def check_filters(session: AsyncSession, filters: Filters) -> None:
    """Unknown ids are a 422 naming the field, not an empty report."""
    checks = (
        ("unit_id", filters.unit_id, "unit"),
        ("category_id", filters.category_id, "category"),
        ("agent_id", filters.agent_id, "agent"),
    )
    for field, value, kind in checks:
        if value is None:
            continue
        known = await _known(session, kind, value)
        if not known:
            raise InvalidInput("unknown_" + kind, f"No {kind} has the id {value}", field=field)


async def _known(session: AsyncSession, kind: str, value: uuid.UUID) -> bool:
    directory = {"unit": "units", "agent": "users"}.get(kind)
    if (
        directory
        and (
            await session.execute(
                sa.text(f"SELECT 1 FROM {directory} WHERE id = :id"), {"id": value}
            )
        ).first()
    ):
        return True
    found = await session.execute(
        sa.text("SELECT 1 FROM dimension_names WHERE kind = :kind AND key = :key"),
        {"kind": kind, "key": str(value)},
    )
    return found.first() is not None


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _mean(total: int, count: int) -> float | None:
    return total / count if count else None


# Percentiles left out: too many facts across several filtered dimensions to read quickly.
_OMITTED = Durations(count=0, mean=None, median=None, p90=None, how="omitted")


def _how(durations: Durations | None) -> Percentiles | None:
    return durations.how if durations is not None else None


def figures_of(
    m: Mapping[str, int], durations: Mapping[Metric, Durations | None] | None = None
) -> Figures:
    """Figures from a row of sums (and, when computed, the durations' percentiles)."""
    durations = durations or {}
    first = durations.get("first_response")
    resolution = durations.get("resolution")
    return Figures(
        created=m["created"],
        by_status={status: m[f"st_{status}"] for status in STATUSES},
        resolved=m["resolved"],
        done=m["done"],
        first_response=DurationFigures(
            count=m["responded"],
            mean_seconds=_mean(m["fr_seconds"], m["responded"]),
            median_seconds=first.median if first else None,
            p90_seconds=first.p90 if first else None,
            percentiles=_how(first),
        ),
        resolution=DurationFigures(
            count=m["resolved"],
            mean_seconds=_mean(m["res_seconds"], m["resolved"]),
            median_seconds=resolution.median if resolution else None,
            p90_seconds=resolution.p90 if resolution else None,
            percentiles=_how(resolution),
        ),
        sla_first_response=SlaFigures(
            met=m["fr_met"],
            breached=m["fr_breached"],
            compliance_percent=_percent(m["fr_met"], m["fr_met"] + m["fr_breached"]),
        ),
        sla_resolution=SlaFigures(
            met=m["res_met"],
            breached=m["res_breached"],
            compliance_percent=_percent(m["res_met"], m["res_met"] + m["res_breached"]),
        ),
        escalated=m["escalated"],
        reopened=m["reopened"],
        reopen_rate_percent=_percent(m["reopened"], m["resolved"]),
        rejected=m["st_rejected"],
        rejection_rate_percent=_percent(m["st_rejected"], m["created"]),
    )


_ZERO = dict.fromkeys(MEASURES, 0)


def _period_out(period: Period) -> PeriodOut:
    return PeriodOut(from_=period.first, to=period.last, timezone=str(period.timezone))


def _filters_out(filters: Filters) -> dict[str, str]:
    return {k: str(v) for k, v in filters.by_column().items()}


# The rollups' count of each duration: how many values a percentile has to look at.
_DURATION_COUNTS: dict[Metric, str] = {"first_response": "responded", "resolution": "resolved"}


async def _durations(
    session: AsyncSession,
    *,
    generation: int,
    period: Period,
    filters: Filters,
    by: Dimension | None,
    exact_limit: int,
) -> dict[Metric, dict[str | None, Durations] | None]:
    # How many facts the percentiles would read: the period's, of the unit if one is asked
    # for (an index per unit); other filters only narrow what is read.
    _, rows = await queries.sum_measures(
        session,
        generation=generation,
        period=period,
        filters=Filters(unit_id=filters.unit_id),
        measures=list(_DURATION_COUNTS.values()),
    )
    scanned = rows[0].measures if rows else dict.fromkeys(_DURATION_COUNTS.values(), 0)
    return {
        metric: await queries.durations(
            session,
            generation=generation,
            period=period,
            filters=filters,
            measure=metric,
            by=by,
            scanned=scanned[count],
            exact_limit=exact_limit,
        )
        for metric, count in _DURATION_COUNTS.items()
    }


async def summary(
    session: AsyncSession, *, period: Period, filters: Filters, exact_limit: int
) -> Summary:
    generation = await active_generation(session)
    source, rows = await queries.sum_measures(
        session, generation=generation, period=period, filters=filters
    )
    sums = rows[0].measures if rows else _ZERO
    per_metric = await _durations(
        session,
        generation=generation,
        period=period,
        filters=filters,
        by=None,
        exact_limit=exact_limit,
    )
    durations = {
        metric: found.get(None) if found is not None else _OMITTED
        for metric, found in per_metric.items()
    }
    open_count = await queries.open_now(session, generation=generation, filters=filters)
    return Summary(
        period=_period_out(period),
        filters=_filters_out(filters),
        source=source,
        figures=figures_of(sums, {k: v for k, v in durations.items() if v is not None}),
        open_now=open_count.get(None, 0),
    )


async def trend(
    session: AsyncSession, *, period: Period, filters: Filters, group_by: GroupBy
) -> Trend:
    """Figures per day, week, month or year, with the open backlog at the end of each.

    The backlog at an instant T is the backlog now, less the tickets created since T, plus
    those done since T: the sums run on to today, so no scan of all history is needed.
    """
    generation = await active_generation(session)
    wanted = buckets(period, group_by)
    # On to today (to the end of its month or year, keeping whole buckets for the rollups).
    current = bucket_of(today(period.timezone), group_by)
    extended_last = max(period.last, next_bucket(current, group_by) - timedelta(days=1))
    extended = replace(period, last=extended_last)
    source, rows = await queries.sum_measures(
        session, generation=generation, period=extended, filters=filters, group_by=group_by
    )
    by_bucket = {row.bucket: row.measures for row in rows}
    open_count = (await queries.open_now(session, generation=generation, filters=filters)).get(
        None, 0
    )
    backlog = open_count
    backlog_end: dict[date, int] = {}
    for start in reversed(buckets(extended, group_by)):
        backlog_end[start] = backlog
        sums = by_bucket.get(start, _ZERO)
        backlog -= sums["created"] - sums["done"]
    points = [
        TrendPoint(
            period_start=start,
            backlog_end=backlog_end[start],
            **figures_of(by_bucket.get(start, _ZERO)).model_dump(),
        )
        for start in wanted
    ]
    return Trend(
        period=_period_out(period),
        filters=_filters_out(filters),
        source=source,
        group_by=group_by,
        points=points,
    )


async def breakdown(
    session: AsyncSession, *, period: Period, filters: Filters, by: Dimension, exact_limit: int
) -> Breakdown:
    generation = await active_generation(session)
    source, rows = await queries.sum_measures(
        session, generation=generation, period=period, filters=filters, by=by
    )
    per_metric = await _durations(
        session,
        generation=generation,
        period=period,
        filters=filters,
        by=by,
        exact_limit=exact_limit,
    )
    open_counts = await queries.open_now(session, generation=generation, filters=filters, by=by)
    sums = {row.key: row.measures for row in rows}
    names = await queries.names(session, by)
    out: list[BreakdownRow] = []
    for key in sums.keys() | open_counts.keys():
        text_key = str(key)
        durations = {
            metric: found.get(text_key) if found is not None else _OMITTED
            for metric, found in per_metric.items()
        }
        figures = figures_of(sums.get(key, _ZERO), durations)
        shown = None if key == NONE_ID else str(key)
        out.append(
            BreakdownRow(
                key=shown,
                name=names.get(shown) if shown is not None else None,
                open_now=open_counts.get(key, 0),
                **figures.model_dump(),
            )
        )
    out.sort(key=lambda row: (-row.created, -row.open_now, row.name or row.key or ""))
    return Breakdown(
        period=_period_out(period), filters=_filters_out(filters), source=source, by=by, rows=out
    )


async def completed_work(
    session: AsyncSession,
    *,
    period: Period,
    filters: Filters,
    limit: int,
    cursor: str | None,
) -> CompletedPage:
    """The recap of completed work: how many tickets were resolved, and the list."""
    generation = await active_generation(session)
    after = None
    if cursor:
        at, ticket_id = decode_cursor(
            cursor, listing=_COMPLETED, parse=[cursor_datetime, cursor_uuid]
        )
        after = (at, ticket_id)
    rows = await queries.completed(
        session,
        generation=generation,
        period=period,
        filters=filters,
        limit=limit + 1,
        after=after,
    )
    _, sums = await queries.sum_measures(
        session, generation=generation, period=period, filters=filters, measures=["resolved"]
    )
    items = [
        CompletedItem(
            **{
                **row.__dict__,
                "category_id": None if row.category_id == NONE_ID else row.category_id,
                "assignee_id": None if row.assignee_id == NONE_ID else row.assignee_id,
            }
        )
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(_COMPLETED, last.resolved_at, last.ticket_id)
    return CompletedPage(
        items=items,
        next_cursor=next_cursor,
        count=sums[0].measures["resolved"] if sums else 0,
    )


async def dimensions(session: AsyncSession, *, principal: Principal) -> Dimensions:
    """What the figures can be filtered and grouped by, with names, for the filter boxes."""

    def named(values: dict[str, str]) -> list[Named]:
        return sorted((Named(id=k, name=v) for k, v in values.items()), key=lambda n: n.name)

    units = await queries.names(session, "unit")
    if principal.role == "requester":
        own = str(principal.unit_id)
        units = {own: units.get(own, own)}
    agents = await _agents(session)
    return Dimensions(
        units=named(units),
        categories=named(await queries.names(session, "category")),
        priorities=named(await queries.names(session, "priority")),
        channels=named(await queries.names(session, "channel")),
        agents=named(agents),
    )


async def _agents(session: AsyncSession) -> dict[str, str]:
    """IT staff in the directory, and anyone a ticket was ever assigned to."""
    assigned = await session.execute(
        sa.text("SELECT key, name FROM dimension_names WHERE kind = 'agent'")
    )
    staff = await session.execute(
        sa.text(
            "SELECT id::text AS key, full_name AS name FROM users WHERE role IN ('agent', 'admin')"
        )
    )
    return {
        **{row["key"]: row["name"] for row in assigned.mappings()},
        **{row["key"]: row["name"] for row in staff.mappings()},
    }
