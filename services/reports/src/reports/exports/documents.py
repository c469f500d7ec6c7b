"""The reports as PDF documents: the figures read in the caller's transaction, formatted
for people (Indonesian numbers, durations in words), charts drawn and the document compiled
in worker threads.

:func:`render_report_pdf` is what the download routes and the scheduled reports call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.directory import organisation as directory_organisation
from helpdesk_documents import DocumentMeta, Organisation, format_date, format_duration, render_pdf
from helpdesk_documents.charts import bar_chart, line_chart
from helpdesk_documents.labels import Language
from helpdesk_documents.pdf import load_template
from reports.exports.service import (
    ReportKind,
    auto_group_by,
    display_name,
    filter_names,
)
from reports.exports.words import word, words
from reports.figures import service as figures
from reports.figures.period import GroupBy, Period
from reports.figures.queries import Dimension, Filters
from reports.figures.schemas import DurationFigures, Figures
from reports.runtime import ReportsRuntime

__all__ = ["RenderedReport", "ReportKind", "render_report_pdf"]

# The full report's breakdowns, and how many rows its tables and completed list show.
FULL_BREAKDOWNS: tuple[Dimension, ...] = ("unit", "category", "priority", "agent")
FULL_TABLE_ROWS = 200
CHART_BARS = 15


@dataclass(frozen=True)
class RenderedReport:
    content: bytes
    filename: str
    title: str


@dataclass(frozen=True)
class _Context:
    """What every section reads with: the caller's transaction, period, scoped filters."""

    session: AsyncSession
    runtime: ReportsRuntime
    period: Period
    filters: Filters
    language: Language

    @property
    def timezone(self) -> ZoneInfo:
        return self.period.timezone

    def w(self, key: str, **values: object) -> str:
        return word(key, self.language, **values)


@dataclass
class _Section:
    """A part of the document: blocks the template lays out (tables, charts, notes) and
    the charts to draw for them (drawn together in a worker thread)."""

    heading: str | None
    blocks: list[dict[str, Any]]
    charts: dict[str, Callable[[], str]] = field(default_factory=dict)
    break_before: bool = False
    # A short section stays on one page (its chart is never parted from its table).
    keep_together: bool = False


async def render_report_pdf(
    session: AsyncSession,
    *,
    runtime: ReportsRuntime,
    report: ReportKind,
    period: Period,
    filters: Filters,
    group_by: GroupBy | None = None,
    by: Dimension = "unit",
    language: Language,
    generated_by: str,
    now: datetime,
) -> RenderedReport:
    """One report as a PDF. ``filters`` are already scoped to the caller
    (``figures.service.scoped``); runs in the caller's transaction and never commits."""
    ctx = _Context(
        session=session, runtime=runtime, period=period, filters=filters, language=language
    )
    sections = await _sections(ctx, report=report, group_by=group_by, by=by)
    title = ctx.w(f"title.{report}", by=ctx.w(f"by.{by}"))
    meta = DocumentMeta(
        title=title,
        subtitle=ctx.w(
            "period_range",
            first=format_date(period.first, language),
            last=format_date(period.last, language),
        ),
        organisation=await _organisation(session),
        generated_at=now,
        generated_by=generated_by,
        language=language,
        timezone=runtime.settings.timezone,
    )
    names = await filter_names(session, filters=filters, language=language)
    charts = await _draw([section.charts for section in sections])
    data = {
        "filters": "; ".join(f"{what}: {name}" for what, name in names) or ctx.w("no_filters"),
        "sections": [
            {
                "heading": s.heading,
                "blocks": s.blocks,
                "break_before": s.break_before,
                "keep_together": s.keep_together,
            }
            for s in sections
        ],
    }
    content = await render_pdf(
        load_template("reports.exports", "report.typ"),
        meta=meta,
        data=data,
        labels=words(language),
        charts=charts,
    )
    return RenderedReport(
        content=content, filename=filename(report, period, by, language), title=title
    )


def filename(
    report: ReportKind, period: Period, by: Dimension, language: Language, ext: str = "pdf"
) -> str:
    """laporan-ringkasan-2026-12-01_2026-12-31.pdf / report-summary-...."""
    stem = word(f"file.{report}", language, by=word(f"file_by.{by}", language))
    return f"{stem}-{period.first.isoformat()}_{period.last.isoformat()}.{ext}"


async def _organisation(session: AsyncSession) -> Organisation:
    row = await directory_organisation(session)
    return Organisation.model_validate(row, from_attributes=True) if row else Organisation()


async def _draw(charts: Sequence[dict[str, Callable[[], str]]]) -> dict[str, str]:
    """Every chart's SVG, drawn in a worker thread (matplotlib is CPU work)."""

    def draw_all() -> dict[str, str]:
        return {name: draw() for group in charts for name, draw in group.items()}

    return await anyio.to_thread.run_sync(draw_all)


async def _sections(
    ctx: _Context, *, report: ReportKind, group_by: GroupBy | None, by: Dimension
) -> list[_Section]:
    settings = ctx.runtime.settings
    if report == "summary":
        return [await _summary(ctx, heading=None)]
    if report == "trend":
        return [await _trend(ctx, heading=None, group_by=group_by or auto_group_by(ctx.period))]
    if report == "breakdown":
        return [await _breakdown(ctx, heading=None, by=by, max_rows=None)]
    if report == "completed":
        return [await _completed(ctx, heading=None, max_rows=settings.pdf_completed_max_rows)]
    return await _full(ctx, group_by=group_by or auto_group_by(ctx.period))


async def _full(ctx: _Context, *, group_by: GroupBy) -> list[_Section]:
    """Summary, trend (as the dashboard on screen groups it, or by the period's length),
    the breakdowns and the first completed tickets, numbered."""
    out = [await _summary(ctx, heading=f"1. {ctx.w('section.summary')}")]
    out.append(
        await _trend(
            ctx,
            heading=f"2. {ctx.w('section.trend')}",
            group_by=group_by,
        )
    )
    for index, dimension in enumerate(FULL_BREAKDOWNS, start=3):
        heading = f"{index}. {ctx.w('section.breakdown', by=ctx.w(f'by.{dimension}'))}"
        out.append(await _breakdown(ctx, heading=heading, by=dimension, max_rows=FULL_TABLE_ROWS))
    number = 3 + len(FULL_BREAKDOWNS)
    out.append(
        await _completed(
            ctx, heading=f"{number}. {ctx.w('section.completed')}", max_rows=FULL_TABLE_ROWS
        )
    )
    # Trend, the breakdowns and the list each start a page; the breakdowns follow each other.
    for index in (1, 2, len(out) - 1):
        out[index].break_before = True
    return out


# --- Numbers for people --------------------------------------------------------------------


def _n(value: int, language: Language) -> str:
    """1.234 (Indonesian) / 1,234 (English)."""
    text = f"{value:,}"
    return text.replace(",", ".") if language == "id" else text


def _pct(value: float | None, language: Language) -> str | None:
    if value is None:
        return None
    text = f"{value:.1f}%"
    return text.replace(".", ",") if language == "id" else text


def _duration(seconds: float | None, language: Language) -> str | None:
    """A working-time duration in words; None (the table's dash) when there is none."""
    return None if seconds is None else format_duration(seconds, language)


def _with_rate(count: int, rate: float | None, language: Language) -> str:
    shown = _pct(rate, language)
    return _n(count, language) + (f" ({shown})" if shown else "")


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str | None]],
    *,
    title: str | None = None,
    widths: Sequence[float | None] | None = None,
    numeric: Sequence[int] = (),
    size: float = 9,
) -> dict[str, Any]:
    """A table block: ``widths`` are fractions of the free width (None: as wide as needed)."""
    return {
        "type": "table",
        "title": title,
        "header": [h[:1].upper() + h[1:] for h in header],
        "rows": [list(r) for r in rows],
        "widths": list(widths) if widths else None,
        "numeric": list(numeric),
        "size": size,
    }


def _note(text: str) -> dict[str, Any]:
    return {"type": "note", "text": text}


def _percentile_notes(ctx: _Context, *durations: DurationFigures) -> list[dict[str, Any]]:
    hows = {d.percentiles for d in durations}
    return [_note(ctx.w(f"percentiles_{how}")) for how in ("approximate", "omitted") if how in hows]


# --- Sections -------------------------------------------------------------------------------


async def _summary(ctx: _Context, *, heading: str | None) -> _Section:
    summary = await figures.summary(
        ctx.session,
        period=ctx.period,
        filters=ctx.filters,
        exact_limit=ctx.runtime.settings.exact_percentile_limit,
    )
    f, lang, w = summary.figures, ctx.language, ctx.w
    cards: dict[str, Any] = {
        "type": "cards",
        "items": [
            [w("created"), _n(f.created, lang)],
            [w("resolved"), _n(f.resolved, lang)],
            [w("open_now"), _n(summary.open_now, lang)],
            [w("card_sla"), _pct(f.sla_resolution.compliance_percent, lang) or "-"],
        ],
    }
    volume = _table(
        [w("figure"), w("value")],
        [
            [w("created"), _n(f.created, lang)],
            [w("resolved"), _n(f.resolved, lang)],
            [w("done"), _n(f.done, lang)],
            [w("open_now"), _n(summary.open_now, lang)],
            [w("escalated"), _n(f.escalated, lang)],
            [w("reopened"), _with_rate(f.reopened, f.reopen_rate_percent, lang)],
            [w("rejected"), _with_rate(f.rejected, f.rejection_rate_percent, lang)],
        ],
        title=w("volume"),
        widths=[1, None],
        numeric=[1],
    )
    statuses = _table(
        [w("status"), w("count")],
        [[w(f"status.{s}"), _n(n, lang)] for s, n in f.by_status.items()],
        title=w("by_status"),
        widths=[1, None],
        numeric=[1],
    )
    blocks: list[dict[str, Any]] = [
        cards,
        {"type": "columns", "blocks": [volume, statuses]},
        _durations_table(ctx, f),
        _sla_table(ctx, f),
        *_percentile_notes(ctx, f.first_response, f.resolution),
    ]
    return _Section(heading=heading, blocks=blocks, keep_together=True)


def _durations_table(ctx: _Context, f: Figures) -> dict[str, Any]:
    lang, w = ctx.language, ctx.w

    def row(name: str, d: DurationFigures) -> list[str | None]:
        return [
            w(name),
            _n(d.count, lang),
            _duration(d.mean_seconds, lang),
            _duration(d.median_seconds, lang),
            _duration(d.p90_seconds, lang),
        ]

    return _table(
        [w("figure"), w("count"), w("mean"), w("median"), w("p90")],
        [row("fr", f.first_response), row("res", f.resolution)],
        title=w("duration"),
        widths=[1, None, None, None, None],
        numeric=[1, 2, 3, 4],
    )


def _sla_table(ctx: _Context, f: Figures) -> dict[str, Any]:
    lang, w = ctx.language, ctx.w
    rows = [
        [w(name), _n(s.met, lang), _n(s.breached, lang), _pct(s.compliance_percent, lang)]
        for name, s in (("sla_fr", f.sla_first_response), ("sla_res", f.sla_resolution))
    ]
    return _table(
        [w("target"), w("met"), w("breached"), w("compliance")],
        rows,
        title=w("sla"),
        widths=[1, None, None, None],
        numeric=[1, 2, 3],
    )


def _bucket_label(start: date, group_by: GroupBy, language: Language, *, short: bool) -> str:
    if group_by == "year":
        return str(start.year)
    month = format_date(start, language).split(" ")[1]
    if group_by == "month":
        return f"{month[:3] if short else month} {start.year}"
    if short:
        return f"{start.day} {month[:3]}"
    text = format_date(start, language)
    return word("week_of", language, date=text) if group_by == "week" else text


async def _trend(ctx: _Context, *, heading: str | None, group_by: GroupBy) -> _Section:
    trend = await figures.trend(
        ctx.session, period=ctx.period, filters=ctx.filters, group_by=group_by
    )
    lang, w = ctx.language, ctx.w
    points = trend.points
    x_labels = [_bucket_label(p.period_start, group_by, lang, short=True) for p in points]
    series: dict[str, Sequence[float | None]] = {
        w("created"): [p.created for p in points],
        w("resolved"): [p.resolved for p in points],
        w("backlog_end"): [p.backlog_end for p in points],
    }
    chart = "trend"
    rows = [
        [
            _bucket_label(p.period_start, group_by, lang, short=False),
            _n(p.created, lang),
            _n(p.resolved, lang),
            _n(p.done, lang),
            _n(p.backlog_end, lang),
            _pct(p.sla_resolution.compliance_percent, lang),
            _duration(p.resolution.mean_seconds, lang),
        ]
        for p in points
    ]
    table = _table(
        [
            w("period_col"),
            w("created"),
            w("resolved"),
            w("done"),
            w("backlog_end"),
            w("sla_compliance"),
            w("mean_resolution"),
        ],
        rows,
        widths=[2.3, 1, 1.2, 1, 1.3, 1.3, 1.6],
        numeric=[1, 2, 3, 4, 5, 6],
        size=8.5,
    )
    blocks = [
        _note(w("grouped_by", group=w(f"group.{group_by}"))),
        {"type": "chart", "name": chart, "caption": w("chart_trend")},
        table,
    ]
    # The caption is the document's, not the chart's: the legend sits where a title would.
    charts = {chart: lambda: line_chart(x_labels, series)}
    return _Section(heading=heading, blocks=blocks, charts=charts, keep_together=len(rows) <= 20)


async def _breakdown(
    ctx: _Context, *, heading: str | None, by: Dimension, max_rows: int | None
) -> _Section:
    breakdown = await figures.breakdown(
        ctx.session,
        period=ctx.period,
        filters=ctx.filters,
        by=by,
        exact_limit=ctx.runtime.settings.exact_percentile_limit,
    )
    lang, w = ctx.language, ctx.w
    items = breakdown.rows
    if not items:
        return _Section(heading=heading, blocks=[_note(w("none"))])
    names = [display_name(by, row, lang) for row in items]
    shown = items if max_rows is None else items[:max_rows]
    rows = [
        [
            name,
            _n(row.created, lang),
            _n(row.resolved, lang),
            _n(row.open_now, lang),
            _pct(row.sla_resolution.compliance_percent, lang),
            _duration(row.resolution.median_seconds, lang),
        ]
        for name, row in zip(names, shown, strict=False)
    ]
    table = _table(
        [
            w(f"by.{by}"),
            w("assigned" if by == "agent" else "created"),
            w("resolved"),
            w("open_now"),
            w("sla_compliance"),
            w("median_resolution"),
        ],
        rows,
        widths=[3, 1, 1, 1, 1.2, 1.4],
        numeric=[1, 2, 3, 4, 5],
        size=8.5,
    )
    chart = f"breakdown-{by}"
    values = [float(row.created) for row in items]
    chart_title = w("chart_breakdown", by=w(f"by.{by}"))
    blocks: list[dict[str, Any]] = [{"type": "chart", "name": chart}, table]
    if len(shown) < len(items):
        blocks.append(
            _note(w("capped_rows", shown=_n(len(shown), lang), total=_n(len(items), lang)))
        )
    blocks += _percentile_notes(ctx, *(row.resolution for row in shown))
    charts = {chart: lambda: bar_chart(names, values, title=chart_title, limit=CHART_BARS)}
    return _Section(heading=heading, blocks=blocks, charts=charts, keep_together=len(rows) <= 20)


def _short_time(value: datetime, timezone: ZoneInfo, language: Language) -> str:
    """04/12/2026 18.20 (Indonesian) / 2026-12-04 18:20 (English), office-local."""
    local = value.astimezone(timezone)
    if language == "id":
        return local.strftime("%d/%m/%Y %H.%M")
    return local.strftime("%Y-%m-%d %H:%M")


async def _completed(ctx: _Context, *, heading: str | None, max_rows: int) -> _Section:
    page = await figures.completed_work(
        ctx.session, period=ctx.period, filters=ctx.filters, limit=max_rows, cursor=None
    )
    lang, w = ctx.language, ctx.w
    blocks: list[dict[str, Any]] = [_note(w("completed_count", total=_n(page.count, lang)))]
    if not page.items:
        return _Section(heading=heading, blocks=[*blocks, _note(w("none"))])
    rows = [
        [
            item.number,
            item.title,
            item.unit_name,
            item.assignee_name or w("not_assigned"),
            _short_time(item.resolved_at, ctx.timezone, lang),
            item.result_summary,
        ]
        for item in page.items
    ]
    blocks.append(
        _table(
            [
                w("number"),
                w("ticket_title"),
                w("unit"),
                w("agent"),
                w("resolved_at"),
                w("result_summary"),
            ],
            rows,
            widths=[None, 2, 1.6, 1.1, None, 2],
            size=7.5,
        )
    )
    total = max(page.count, len(page.items))
    if page.next_cursor is not None or total > len(page.items):
        blocks.append(_note(w("capped", shown=_n(len(page.items), lang), total=_n(total, lang))))
    return _Section(heading=heading, blocks=blocks)
