"""What the exports read and how their rows look: the figures as spreadsheet rows (numbers
stay numbers: minutes and percents unformatted, so a spreadsheet can compute with them),
the completed tickets page by page, and the names of what a report is filtered by.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_documents.labels import Language, label
from reports.exports.words import word
from reports.figures import queries
from reports.figures.period import GroupBy, Period
from reports.figures.queries import CompletedRow, Dimension, Filters
from reports.figures.schemas import (
    Breakdown,
    BreakdownRow,
    DurationFigures,
    Figures,
    SlaFigures,
    Summary,
    Trend,
)
from reports.readmodel.projection import NONE_ID, STATUSES
from reports.readmodel.state import active_generation

ReportKind = Literal["full", "summary", "trend", "breakdown", "completed"]
REPORTS: Final[tuple[ReportKind, ...]] = ("full", "summary", "trend", "breakdown", "completed")
# Reports a spreadsheet can hold: the full report is a document of several tables.
CSV_REPORTS: Final[tuple[ReportKind, ...]] = ("summary", "trend", "breakdown", "completed")

Cell = str | int | float | None
Row = list[Cell]
Header = list[str]
Column = tuple[str, Callable[[Figures], Cell]]


def auto_group_by(period: Period) -> GroupBy:
    """A trend's grain when none is asked for: a readable number of points."""
    days = (period.last - period.first).days + 1
    if days <= 62:
        return "day"
    if days <= 366:
        return "week"
    return "month"


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def figure_columns(language: Language, *, percentiles: bool) -> list[Column]:
    """The figures' columns, in the order every CSV shows them.

    ``percentiles``: medians and p90 (a trend's points carry none: each point would need a
    sort of its own).
    """

    def w(key: str, **values: object) -> str:
        return word(key, language, **values)

    def mins(prefix: str, stat: str) -> str:
        return f"{w(prefix)}: {w(stat)} ({w('minutes')})"

    def duration(prefix: str, pick: Callable[[Figures], DurationFigures]) -> list[Column]:
        out: list[Column] = [
            (f"{w(prefix)}: {w('count')}", lambda f: pick(f).count),
            (mins(prefix, "mean"), lambda f: minutes(pick(f).mean_seconds)),
        ]
        if percentiles:
            out.append((mins(prefix, "median"), lambda f: minutes(pick(f).median_seconds)))
            out.append((mins(prefix, "p90"), lambda f: minutes(pick(f).p90_seconds)))
        return out

    def sla(prefix: str, pick: Callable[[Figures], SlaFigures]) -> list[Column]:
        return [
            (f"{w(prefix)}: {w('met')}", lambda f: pick(f).met),
            (f"{w(prefix)}: {w('breached')}", lambda f: pick(f).breached),
            (f"{w(prefix)}: {w('compliance')} (%)", lambda f: pick(f).compliance_percent),
        ]

    def status(code: str) -> Column:
        name = w("status_count", status=label(f"status.{code}", language))
        return (name, lambda f: f.by_status.get(code, 0))

    return [
        (w("created"), lambda f: f.created),
        (w("resolved"), lambda f: f.resolved),
        (w("done"), lambda f: f.done),
        *(status(code) for code in STATUSES),
        *duration("fr", lambda f: f.first_response),
        *duration("res", lambda f: f.resolution),
        *sla("sla_fr", lambda f: f.sla_first_response),
        *sla("sla_res", lambda f: f.sla_resolution),
        (w("escalated"), lambda f: f.escalated),
        (w("reopened"), lambda f: f.reopened),
        (f"{w('reopen_rate')} (%)", lambda f: f.reopen_rate_percent),
        (w("rejected"), lambda f: f.rejected),
        (f"{w('rejection_rate')} (%)", lambda f: f.rejection_rate_percent),
    ]


def summary_table(summary: Summary, *, language: Language) -> tuple[Header, list[Row]]:
    """One header row and one row of every figure of the period."""
    columns = figure_columns(language, percentiles=True)
    header: Header = [
        word("period_start", language),
        word("period_end", language),
        *(name for name, _ in columns[:3]),
        word("open_now", language),
        *(name for name, _ in columns[3:]),
    ]
    values = [get(summary.figures) for _, get in columns]
    row: Row = [
        summary.period.from_.isoformat(),
        summary.period.to.isoformat(),
        *values[:3],
        summary.open_now,
        *values[3:],
    ]
    return header, [row]


def trend_table(trend: Trend, *, language: Language) -> tuple[Header, list[Row]]:
    """One row per day, week, month or year."""
    columns = figure_columns(language, percentiles=False)
    header: Header = [
        word("period_start", language),
        *(name for name, _ in columns),
        word("backlog_end", language),
    ]
    rows: list[Row] = [
        [point.period_start.isoformat(), *(get(point) for _, get in columns), point.backlog_end]
        for point in trend.points
    ]
    return header, rows


def breakdown_table(breakdown: Breakdown, *, language: Language) -> tuple[Header, list[Row]]:
    """One row per unit, category, priority, channel or agent, with its name."""
    by: Dimension = breakdown.by  # type: ignore[assignment]
    columns = figure_columns(language, percentiles=True)
    if by == "agent":
        # An agent's "created" is the tickets created in the period and held by them now.
        columns[0] = (word("assigned", language), columns[0][1])
    header: Header = [
        word("key", language),
        word(f"by.{by}", language),
        *(name for name, _ in columns[:3]),
        word("open_now", language),
        *(name for name, _ in columns[3:]),
    ]
    rows: list[Row] = []
    for item in breakdown.rows:
        values = [get(item) for _, get in columns]
        rows.append(
            [
                item.key,
                display_name(by, item, language),
                *values[:3],
                item.open_now,
                *values[3:],
            ]
        )
    return header, rows


def display_name(by: Dimension, row: BreakdownRow, language: Language) -> str:
    """What a breakdown row is called: its name, or a word for "none" or a code."""
    if row.key is None:
        return word("not_assigned" if by == "agent" else "no_category", language)
    if by == "channel":
        return label(f"channel.{row.key}", language)
    if by == "priority":
        return priority_name(row.key, row.name, language)
    return row.name or row.key


def priority_name(code: str, name: str | None, language: Language) -> str:
    """The tickets service's name for a priority (its master data) in Indonesian; the
    standard words in English, where the master data's Indonesian would stand out."""
    standard = word(f"priority.{code}", language)
    known = standard != f"priority.{code}"
    if language == "en" and known:
        return standard
    return name or (standard if known else code)


def completed_header(language: Language) -> Header:
    keys = (
        "number",
        "ticket_title",
        "status",
        "priority",
        "channel",
        "unit",
        "category",
        "agent",
        "created_at",
        "resolved_at",
        "resolution_minutes",
        "result_summary",
    )
    return [word(key, language) for key in keys]


def local_time(value: datetime, timezone: ZoneInfo) -> str:
    """Office-local time a spreadsheet reads as a date and time."""
    return value.astimezone(timezone).strftime("%Y-%m-%d %H:%M")


def completed_row(
    row: CompletedRow, *, timezone: ZoneInfo, language: Language, priorities: dict[str, str]
) -> Row:
    return [
        row.number,
        row.title,
        label(f"status.{row.status}", language),
        priority_name(row.priority, priorities.get(row.priority), language),
        label(f"channel.{row.channel}", language),
        row.unit_name,
        row.category_name,
        row.assignee_name if row.assignee_id != NONE_ID else None,
        local_time(row.created_at, timezone),
        local_time(row.resolved_at, timezone),
        minutes(row.resolution_seconds),
        row.result_summary,
    ]


async def completed_page(
    session: AsyncSession,
    *,
    period: Period,
    filters: Filters,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[CompletedRow]:
    """One page of the tickets resolved in the period, newest first (the keyset query of
    ``/completed``, without its count: a download pages through them all)."""
    generation = await active_generation(session)
    return await queries.completed(
        session, generation=generation, period=period, filters=filters, limit=limit, after=after
    )


async def priority_names(session: AsyncSession) -> dict[str, str]:
    return await queries.names(session, "priority")


async def filter_names(
    session: AsyncSession, *, filters: Filters, language: Language
) -> list[tuple[str, str]]:
    """The filters as a reader sees them: (what, name) pairs, names from the directory
    replica and the tickets' snapshots (an id nobody named stays an id)."""
    out: list[tuple[str, str]] = []
    for kind, value in (
        ("unit", filters.unit_id),
        ("category", filters.category_id),
        ("agent", filters.agent_id),
    ):
        if value is not None:
            names = await queries.names(session, kind)
            out.append((word(kind, language), names.get(str(value), str(value))))
    if filters.priority is not None:
        names = await priority_names(session)
        name = priority_name(filters.priority, names.get(filters.priority), language)
        out.append((word("priority", language), name))
    if filters.channel is not None:
        out.append((word("channel", language), label(f"channel.{filters.channel}", language)))
    return out
