"""Every report as a download (gateway: /api/reports/export/...): CSV for spreadsheets and
PDF for reading and signing, with the same period, filters and access as the figures.

``GET /export/{report}.csv`` (summary, trend, breakdown, completed) and
``GET /export/{report}.pdf`` (those and ``full``, the whole dashboard in one document).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import CurrentUser, Principal
from helpdesk_common.db import SessionDep
from helpdesk_common.errors import ApiError
from helpdesk_common.responses import errors
from helpdesk_documents import (
    CSV_MEDIA_TYPE,
    PDF_MEDIA_TYPE,
    attachment_disposition,
    csv_chunks,
)
from helpdesk_documents.csvstream import rows_of
from helpdesk_documents.labels import Language, language_of
from reports.exports import service
from reports.exports.documents import filename, render_report_pdf
from reports.exports.service import CSV_REPORTS, REPORTS, Header, ReportKind, Row
from reports.figures import service as figures
from reports.figures.period import GroupBy, Period
from reports.figures.queries import Dimension, Filters
from reports.figures.views import FiltersDep, PeriodDep, report_transaction
from reports.runtime import ReportsRuntime, RuntimeDep

router = APIRouter(tags=["reports"])

LanguageQuery = Annotated[
    Language | None,
    Query(alias="lang", description="the document's language; default: the caller's"),
]
GroupByQuery = Annotated[
    GroupBy | None,
    Query(description="trend and full; default: day up to 62 days, week up to a year, else month"),
]
ByQuery = Annotated[Dimension, Query(description="breakdown only")]


def _report(name: str, allowed: Sequence[ReportKind], extension: str) -> ReportKind:
    for report in allowed:
        if report == name:
            return report
    if extension == "csv" and name == "full":
        raise ApiError(
            404,
            "no_csv",
            "The full report is a PDF only; download each report's CSV"
            " (summary, trend, breakdown, completed)",
            field="report",
        )
    raise ApiError(
        404,
        "unknown_report",
        f"No report {name!r} as {extension.upper()}; one of: {', '.join(allowed)}",
        field="report",
    )


def _language(lang: Language | None, principal: Principal) -> Language:
    return lang or language_of(principal.language)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": attachment_disposition(name)}


@router.get("/export/{report}.pdf", responses=errors(403), response_class=Response)
async def export_pdf(
    report: str,
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    period: PeriodDep,
    filters: FiltersDep,
    group_by: GroupByQuery = None,
    by: ByQuery = "unit",
    lang: LanguageQuery = None,
) -> Response:
    """A report as an A4 PDF with the organisation's letterhead: summary, trend, breakdown,
    completed (the first ``PDF_COMPLETED_MAX_ROWS`` tickets) or full (everything)."""
    kind = _report(report, REPORTS, "pdf")
    async with report_transaction(session, runtime, principal, filters) as scoped:
        rendered = await render_report_pdf(
            session,
            runtime=runtime,
            report=kind,
            period=period,
            filters=scoped,
            group_by=group_by,
            by=by,
            language=_language(lang, principal),
            generated_by=principal.name or principal.email or str(principal.user_id),
            now=datetime.now(UTC),
        )
    return Response(
        rendered.content, media_type=PDF_MEDIA_TYPE, headers=_attachment(rendered.filename)
    )


@router.get("/export/{report}.csv", responses=errors(403), response_class=StreamingResponse)
async def export_csv(
    report: str,
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    period: PeriodDep,
    filters: FiltersDep,
    group_by: GroupByQuery = None,
    by: ByQuery = "unit",
    lang: LanguageQuery = None,
) -> StreamingResponse:
    """A report as CSV (UTF-8 with a byte-order mark, one header row; minutes and percents
    as plain numbers). ``completed`` streams every ticket of the period."""
    kind = _report(report, CSV_REPORTS, "csv")
    language = _language(lang, principal)
    name = filename(kind, period, by, language, ext="csv")
    body: AsyncIterable[Sequence[object]]
    async with report_transaction(session, runtime, principal, filters) as scoped:
        if kind == "completed":
            header = service.completed_header(language)
            # A generator: its pages are read while the response streams.
            body = _completed_rows(
                runtime,
                principal,
                period=period,
                filters=scoped,
                language=language,
                priorities=await service.priority_names(session),
            )
        else:
            header, rows = await _figures_table(
                session,
                runtime=runtime,
                report=kind,
                period=period,
                filters=scoped,
                group_by=group_by,
                by=by,
                language=language,
            )
            body = rows_of(rows)
    return StreamingResponse(
        csv_chunks(header, body), media_type=CSV_MEDIA_TYPE, headers=_attachment(name)
    )


async def _figures_table(
    session: AsyncSession,
    *,
    runtime: ReportsRuntime,
    report: ReportKind,
    period: Period,
    filters: Filters,
    group_by: GroupBy | None,
    by: Dimension,
    language: Language,
) -> tuple[Header, list[Row]]:
    """The summary, trend or breakdown as a header and rows (a few hundred at most)."""
    limit = runtime.settings.exact_percentile_limit
    if report == "summary":
        summary = await figures.summary(session, period=period, filters=filters, exact_limit=limit)
        return service.summary_table(summary, language=language)
    if report == "trend":
        trend = await figures.trend(
            session,
            period=period,
            filters=filters,
            group_by=group_by or service.auto_group_by(period),
        )
        return service.trend_table(trend, language=language)
    breakdown = await figures.breakdown(
        session, period=period, filters=filters, by=by, exact_limit=limit
    )
    return service.breakdown_table(breakdown, language=language)


async def _completed_rows(
    runtime: ReportsRuntime,
    principal: Principal,
    *,
    period: Period,
    filters: Filters,
    language: Language,
    priorities: dict[str, str],
) -> AsyncIterator[Row]:
    """Every completed ticket of the period, newest first, a page per short transaction.

    The request's session is gone once streaming starts; each page takes a connection of
    its own only while its query runs, so a slow download holds no connection (nor an old
    snapshot) between pages. The keyset makes the pages seamless.
    """
    page_size = runtime.settings.csv_page_size
    timezone = period.timezone
    after = None
    while True:
        async with (
            runtime.sessionmaker() as session,
            report_transaction(session, runtime, principal, filters) as scoped,
        ):
            rows = await service.completed_page(
                session, period=period, filters=scoped, limit=page_size, after=after
            )
        for row in rows:
            yield service.completed_row(
                row, timezone=timezone, language=language, priorities=priorities
            )
        if len(rows) < page_size:
            return
        after = (rows[-1].resolved_at, rows[-1].ticket_id)
