"""The SQL behind the figures: sums from the smallest rollup that can answer, response-time
percentiles and the open backlog from the facts' covering indexes.

Every query is bounded by the active generation, a period of at most ten years and the
filters, and runs under a statement timeout (``ReportsSettings.query_timeout_seconds``).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from reports.figures.period import GroupBy, Period, next_bucket
from reports.readmodel.histogram import Metric, bucket_sql, percentile
from reports.readmodel.projection import DIMENSIONS, MEASURES
from reports.readmodel.rollups import ROLLUPS, Rollup

Dimension = Literal["unit", "category", "priority", "channel", "agent"]
DIMENSION_COLUMNS: Final[dict[str, str]] = {
    "unit": "unit_id",
    "category": "category_id",
    "priority": "priority",
    "channel": "channel",
    "agent": "assignee_id",
}


@dataclass(frozen=True)
class Filters:
    """What the figures are narrowed to (None: everything)."""

    unit_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    priority: str | None = None
    agent_id: uuid.UUID | None = None
    channel: str | None = None

    def by_column(self) -> dict[str, object]:
        values = {
            "unit_id": self.unit_id,
            "category_id": self.category_id,
            "priority": self.priority,
            "assignee_id": self.agent_id,
            "channel": self.channel,
        }
        return {column: value for column, value in values.items() if value is not None}


def choose_rollup(*, columns: set[str], period: Period, group_by: GroupBy | None) -> Rollup:
    """The smallest rollup with every column needed and a grain that fits the period."""
    for rollup in ROLLUPS:
        if not columns <= set(rollup.dimensions):
            continue
        if rollup.grain == "month" and not (
            period.whole_months and group_by in (None, "month", "year")
        ):
            continue
        return rollup
    raise AssertionError("rollup_day has every dimension")  # pragma: no cover


def _where(filters: Filters, params: dict[str, Any]) -> list[str]:
    clauses = []
    for column, value in filters.by_column().items():
        clauses.append(f"{column} = :f_{column}")
        params[f"f_{column}"] = value
    return clauses


def _bucket_sql(rollup: Rollup, group_by: GroupBy) -> str:
    if group_by == rollup.grain:
        return rollup.grain
    return f"date_trunc('{group_by}', {rollup.grain})::date"


@dataclass(frozen=True)
class SumRow:
    bucket: date | None
    key: object | None
    measures: dict[str, int]


async def sum_measures(
    session: AsyncSession,
    *,
    generation: int,
    period: Period,
    filters: Filters,
    group_by: GroupBy | None = None,
    by: Dimension | None = None,
    measures: Sequence[str] = MEASURES,
) -> tuple[str, list[SumRow]]:
    """Sums of ``measures`` over the period, per bucket and/or per dimension value;
    returns the rollup(s) read and the rows.

    A period of whole months and ragged ends, not grouped by day or week, reads its whole
    months from a month rollup and only its ends from a day rollup: at a million tickets,
    ``rollup_day`` holds more rows than there are tickets.
    """
    key_column = DIMENSION_COLUMNS[by] if by else None
    columns = set(filters.by_column()) | ({key_column} if key_column else set())
    rollup = choose_rollup(columns=columns, period=period, group_by=group_by)
    months = _whole_months(period)
    by_month = next(
        (r for r in ROLLUPS if r.grain == "month" and columns <= set(r.dimensions)), None
    )
    # Only the catch-all day rollup is worth splitting: the others are small.
    if (
        rollup.dimensions != DIMENSIONS
        or months is None
        or by_month is None
        or group_by in ("day", "week")
    ):
        rows = await _sums(
            session,
            rollup,
            generation=generation,
            first=period.first,
            last=period.last,
            filters=filters,
            group_by=group_by,
            key_column=key_column,
            measures=measures,
        )
        return rollup.table, rows
    first_month, end_month = months
    spans = [
        (by_month, first_month, end_month - timedelta(days=1)),
        (rollup, period.first, first_month - timedelta(days=1)),
        (rollup, end_month, period.last),
    ]
    merged: dict[tuple[date | None, object], Counter[str]] = {}
    for source, first, last in spans:
        if first > last:
            continue
        for row in await _sums(
            session,
            source,
            generation=generation,
            first=first,
            last=last,
            filters=filters,
            group_by=group_by,
            key_column=key_column,
            measures=measures,
        ):
            merged.setdefault((row.bucket, row.key), Counter()).update(row.measures)
    rows = [
        SumRow(bucket=bucket, key=key, measures={m: sums[m] for m in measures})
        for (bucket, key), sums in merged.items()
    ]
    return f"{by_month.table}+{rollup.table}", rows


def _whole_months(period: Period) -> tuple[date, date] | None:
    """The first whole month of the period and the day after its last whole month."""
    first = period.first if period.first.day == 1 else next_bucket(period.first, "month")
    after = period.last + timedelta(days=1)
    end = after if after.day == 1 else after.replace(day=1)
    return (first, end) if first < end else None


async def _sums(
    session: AsyncSession,
    rollup: Rollup,
    *,
    generation: int,
    first: date,
    last: date,
    filters: Filters,
    group_by: GroupBy | None,
    key_column: str | None,
    measures: Sequence[str],
) -> list[SumRow]:
    params: dict[str, Any] = {
        "g": generation,
        "first": first.replace(day=1) if rollup.grain == "month" else first,
        "last": last,
    }
    selects, groups = [], []
    if group_by is not None:
        selects.append(f"{_bucket_sql(rollup, group_by)} AS bucket")
        groups.append("bucket")
    if key_column is not None:
        selects.append(f"{key_column} AS key")
        groups.append("key")
    selects.extend(f"sum({m})::bigint AS {m}" for m in measures)
    where = [
        "generation = :g",
        f"{rollup.grain} >= :first",
        f"{rollup.grain} <= :last",
        *_where(filters, params),
    ]
    sql = f"SELECT {', '.join(selects)} FROM {rollup.table} WHERE {' AND '.join(where)}"
    if groups:
        sql += f" GROUP BY {', '.join(groups)}"
    result = await session.execute(sa.text(sql), params)
    return [
        SumRow(
            bucket=row.get("bucket"),
            key=row.get("key"),
            measures={m: int(row[m] or 0) for m in measures},
        )
        for row in result.mappings()
    ]


Percentiles = Literal["exact", "approximate", "omitted"]


@dataclass(frozen=True)
class Durations:
    count: int
    mean: float | None
    median: float | None
    p90: float | None
    # How median and p90 were computed (see ``durations``).
    how: Percentiles = "exact"


_DURATION_SOURCES: Final = {
    # (anchor column, value column)
    "first_response": ("created_at", "first_response_seconds"),
    "resolution": ("resolved_at", "resolution_seconds"),
}
_KIND_OF_COLUMN: Final = {column: kind for kind, column in DIMENSION_COLUMNS.items()}


# Bucketing durations read from the facts is cheaper than sorting them, but still reads every
# row of the period: beyond this many times the exact limit, percentiles are left out.
BUCKETED_SCAN_FACTOR: Final = 5


async def durations(
    session: AsyncSession,
    *,
    generation: int,
    period: Period,
    filters: Filters,
    measure: Metric,
    by: Dimension | None = None,
    scanned: int,
    exact_limit: int,
) -> dict[str | None, Durations] | None:
    """Median and 90th percentile of a working-time duration per dimension value (as text;
    key None without ``by``), or None when too costly to tell.

    ``scanned``: how many facts the period holds (of the unit filtered by, if any: the facts
    have an index per unit). Up to ``exact_limit`` they are sorted: exact. Beyond, the
    histograms answer when the filters and grouping concern one dimension (estimates);
    otherwise the facts' durations are bucketed, up to ``BUCKETED_SCAN_FACTOR`` times the
    limit.
    """
    if scanned <= exact_limit:
        return await _exact_durations(
            session,
            generation=generation,
            period=period,
            filters=filters,
            measure=measure,
            by=by,
        )
    if _histogram_kind(filters, by) is None and scanned > BUCKETED_SCAN_FACTOR * exact_limit:
        return None
    histograms = await _histograms(
        session, generation=generation, period=period, filters=filters, measure=measure, by=by
    )
    return {
        key: Durations(
            count=sum(counts.values()),
            mean=None,  # exact, from the rollups' sums
            median=percentile(counts, 0.5),
            p90=percentile(counts, 0.9),
            how="approximate",
        )
        for key, counts in histograms.items()
    }


async def _exact_durations(
    session: AsyncSession,
    *,
    generation: int,
    period: Period,
    filters: Filters,
    measure: Metric,
    by: Dimension | None,
) -> dict[str | None, Durations]:
    anchor, value = _DURATION_SOURCES[measure]
    params: dict[str, Any] = {"g": generation, "start": period.start, "end": period.end}
    key = f"{DIMENSION_COLUMNS[by]}::text" if by else "NULL::text"
    where = [
        "generation = :g",
        f"{anchor} >= :start",
        f"{anchor} < :end",
        f"{value} IS NOT NULL",
        *_where(filters, params),
    ]
    sql = (
        f"SELECT {key} AS key, count(*) AS n, avg({value}) AS mean,"
        f" percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {value}) AS pct"
        f" FROM ticket_facts WHERE {' AND '.join(where)} GROUP BY 1"
    )
    result = await session.execute(sa.text(sql), params)
    out: dict[str | None, Durations] = {}
    for row in result.mappings():
        median, p90 = row["pct"]
        out[row["key"]] = Durations(
            count=int(row["n"]),
            mean=float(row["mean"]) if row["mean"] is not None else None,
            median=float(median) if median is not None else None,
            p90=float(p90) if p90 is not None else None,
        )
    return out


def _histogram_kind(filters: Filters, by: Dimension | None) -> tuple[str, str | None] | None:
    """The histogram that answers (its kind and the one value asked for), or None when the
    filters span several dimensions (the facts answer then)."""
    columns = filters.by_column()
    if by is not None:
        column = DIMENSION_COLUMNS[by]
        if set(columns) - {column}:
            return None
        return by, str(columns[column]) if column in columns else None
    if not columns:
        return "all", None
    if len(columns) == 1:
        ((column, value),) = columns.items()
        return _KIND_OF_COLUMN[column], str(value)
    return None


async def _histograms(
    session: AsyncSession,
    *,
    generation: int,
    period: Period,
    filters: Filters,
    measure: Metric,
    by: Dimension | None,
) -> dict[str | None, Counter[int]]:
    """Per dimension value, the durations' counts by bucket: whole months from the
    histogram table, the partial months at the period's ends from the facts."""
    out: dict[str | None, Counter[int]] = defaultdict(Counter)
    kind = _histogram_kind(filters, by)
    months = _whole_months(period)
    if kind is None or months is None:
        spans = [(period.start, period.end)]
    else:
        first_month, end_month = months
        spans = [
            (period.start, period.instant(first_month)),
            (period.instant(end_month), period.end),
        ]
        params: dict[str, Any] = {
            "g": generation,
            "metric": measure,
            "kind": kind[0],
            "m0": first_month,
            "m1": end_month,
        }
        where = [
            "generation = :g",
            "metric = :metric",
            "kind = :kind",
            "month >= :m0",
            "month < :m1",
        ]
        if kind[1] is not None:
            where.append("value = :value")
            params["value"] = kind[1]
        key = "value" if by else "NULL::text"
        result = await session.execute(
            sa.text(
                f"SELECT {key} AS key, bucket, sum(n)::bigint AS n FROM duration_histogram"
                f" WHERE {' AND '.join(where)} GROUP BY 1, 2"
            ),
            params,
        )
        for row in result.mappings():
            out[row["key"]][row["bucket"]] += int(row["n"])
    anchor, value = _DURATION_SOURCES[measure]
    key = f"{DIMENSION_COLUMNS[by]}::text" if by else "NULL::text"
    for start, end in spans:
        if start >= end:
            continue
        params = {"g": generation, "start": start, "end": end}
        where = [
            "generation = :g",
            f"{anchor} >= :start",
            f"{anchor} < :end",
            f"{value} IS NOT NULL",
            *_where(filters, params),
        ]
        result = await session.execute(
            sa.text(
                f"SELECT {key} AS key, {bucket_sql(value)} AS bucket, count(*) AS n"
                f" FROM ticket_facts WHERE {' AND '.join(where)} GROUP BY 1, 2"
            ),
            params,
        )
        for row in result.mappings():
            out[row["key"]][int(row["bucket"])] += int(row["n"])
    return out


async def open_now(
    session: AsyncSession, *, generation: int, filters: Filters, by: Dimension | None = None
) -> dict[object, int]:
    """Tickets open now (not resolved, closed or rejected), per dimension value."""
    params: dict[str, Any] = {"g": generation}
    key = f"{DIMENSION_COLUMNS[by]}" if by else "NULL::text"
    where = ["generation = :g", "done_at IS NULL", *_where(filters, params)]
    sql = (
        f"SELECT {key} AS key, count(*) AS n FROM ticket_facts"
        f" WHERE {' AND '.join(where)} GROUP BY 1"
    )
    result = await session.execute(sa.text(sql), params)
    return {row["key"]: int(row["n"]) for row in result.mappings()}


@dataclass(frozen=True)
class CompletedRow:
    ticket_id: uuid.UUID
    number: str
    title: str
    status: str
    priority: str
    channel: str
    unit_id: uuid.UUID
    unit_name: str | None
    category_id: uuid.UUID
    category_name: str | None
    assignee_id: uuid.UUID
    assignee_name: str | None
    created_at: datetime
    resolved_at: datetime
    resolution_seconds: int | None
    result_summary: str | None


async def completed(
    session: AsyncSession,
    *,
    generation: int,
    period: Period,
    filters: Filters,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[CompletedRow]:
    """Tickets resolved in the period, newest first, one page (keyset on the index)."""
    params: dict[str, Any] = {
        "g": generation,
        "start": period.start,
        "end": period.end,
        "limit": limit,
    }
    where = [
        "generation = :g",
        "resolved_at IS NOT NULL",
        "resolved_at >= :start",
        "resolved_at < :end",
        *_where(filters, params),
    ]
    if after is not None:
        where.append("(resolved_at, ticket_id) < (:after_at, :after_id)")
        params["after_at"], params["after_id"] = after
    fields = ", ".join(CompletedRow.__dataclass_fields__)
    sql = (
        f"SELECT {fields} FROM ticket_facts WHERE {' AND '.join(where)}"
        " ORDER BY resolved_at DESC, ticket_id DESC LIMIT :limit"
    )
    result = await session.execute(sa.text(sql), params)
    return [CompletedRow(**row) for row in result.mappings()]


async def names(session: AsyncSession, kind: str) -> dict[str, str]:
    """Names of one kind of dimension value: the directory's units and users first, then
    what the tickets' snapshots called them."""
    result = await session.execute(
        sa.text("SELECT key, name FROM dimension_names WHERE kind = :kind"), {"kind": kind}
    )
    out = {row["key"]: row["name"] for row in result.mappings()}
    directory = {
        "unit": "SELECT id::text AS key, name FROM units",
        "agent": "SELECT id::text AS key, full_name AS name FROM users",
    }.get(kind)
    if directory:
        result = await session.execute(sa.text(directory))
        out.update({row["key"]: row["name"] for row in result.mappings()})
    return out
