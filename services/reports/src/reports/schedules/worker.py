"""The scheduled reports worker: every replica runs it; each due period runs exactly once.

One period of one schedule is one transaction: the schedule row is locked (``FOR UPDATE
SKIP LOCKED``: replicas take different schedules, never the same one twice), the run row is
inserted (unique per schedule and period), the PDF is rendered, the ``report.generated``
event goes into the outbox and the schedule moves on to its next period. A replica that
dies before the commit leaves nothing behind (the period is still due, for any replica);
after it, the outbox delivers the event and the notifications service mails it. Periods
missed while no replica ran are due already: they run one after another, oldest first,
as soon as a replica is back.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts.identity import Language
from helpdesk_common.contracts.reports import ReportGenerated
from helpdesk_common.errors import log_failure
from helpdesk_common.outbox import add_event
from reports.exports import render_report_pdf
from reports.figures.period import Period
from reports.runtime import ReportsRuntime
from reports.schedules import periods, service
from reports.schedules.models import ReportSchedule
from reports.schedules.service import Timing

log = logging.getLogger("reports.schedules")

SCHEDULED_RUNS = Counter(
    "reports_scheduled_runs_total",
    "Scheduled report runs, by outcome (generated, skipped, retry, failed)",
    ["status"],
)

_GENERATED_BY = {
    "id": "Laporan terjadwal untuk {owner}",
    "en": "Scheduled report for {owner}",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


async def schedule_worker(runtime: ReportsRuntime) -> None:
    """Run whatever is due, then look again every ``schedule_poll_seconds``."""
    while True:
        try:
            while await run_next_due(runtime):
                pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The database is away, say: the periods stay due and are run on a later round.
            log_failure(log, "scheduled reports: looking for due runs failed", exc)
        await asyncio.sleep(runtime.settings.schedule_poll_seconds)


async def run_next_due(runtime: ReportsRuntime) -> bool:
    """Run the period due the longest, if any; False when nothing is due."""
    timing = Timing.of(runtime.settings)
    now = utcnow()
    failure: tuple[date, str] | None = None
    schedule_id: uuid.UUID | None = None
    period_from: date | None = None
    async with runtime.sessionmaker() as session:
        try:
            async with session.begin():
                schedule = await service.take_due(session, now=now)
                if schedule is None:
                    return False
                period_from = schedule.next_period_from
                schedule_id = schedule.id
                await _run(session, runtime, schedule, timing=timing, now=now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if schedule_id is None or period_from is None:
                raise  # nothing taken yet (the database is away): the caller waits
            # Rolled back: no run row, no event. Recorded below, in a transaction of its own.
            log.exception("scheduled report %s for %s failed", schedule_id, period_from)
            failure = (period_from, f"{type(exc).__name__}: {exc}")
    if failure is not None and schedule_id is not None:
        await _record_failure(runtime, schedule_id, *failure, timing=timing)
    return True


async def _run(
    session: AsyncSession,
    runtime: ReportsRuntime,
    schedule: ReportSchedule,
    *,
    timing: Timing,
    now: datetime,
) -> None:
    if not await service.owner_may_run(session, schedule=schedule):
        await _skip(session, schedule, now=now, timing=timing, detail="owner_not_allowed")
        return
    recipients = await service.resolve_recipients(session, schedule=schedule)
    if not recipients:
        await _skip(session, schedule, now=now, timing=timing, detail="no_recipients")
        return
    run_id = await service.start_run(
        session,
        schedule=schedule,
        status="generated",
        now=now,
        recipient_count=len(recipients),
    )
    if run_id is None:
        log.warning(
            "scheduled report %s: %s was already run; moving on",
            schedule.id,
            schedule.next_period_from,
        )
        service.advance(schedule, timing=timing)
        return
    # The report's queries under the same statement timeout as the API's.
    timeout_ms = int(runtime.settings.query_timeout_seconds * 1000)
    await session.execute(sa.text(f"SET LOCAL statement_timeout = {timeout_ms}"))
    cadence = service.cadence_of(schedule)
    period = Period(
        first=schedule.next_period_from,
        last=periods.period_last(schedule.next_period_from, cadence),
        timezone=timing.timezone,
    )
    options = service.options_of(schedule)
    language: Language = "en" if schedule.language == "en" else "id"
    rendered = await render_report_pdf(
        session,
        runtime=runtime,
        report=schedule.report,  # type: ignore[arg-type]  # checked on the way in
        period=period,
        filters=service.filters_of(schedule),
        group_by=options.group_by,
        by=options.by,
        language=language,
        generated_by=_GENERATED_BY[language].format(owner=schedule.owner_name),
        now=now,
    )
    await service.finish_run(
        session, run_id=run_id, filename=rendered.filename, size_bytes=len(rendered.content)
    )
    await add_event(
        session,
        ReportGenerated(
            run_id=run_id,
            subscription_id=schedule.id,
            subscription_name=schedule.name,
            report=schedule.report,
            cadence=cadence,
            period_from=period.first,
            period_to=period.last,
            language=language,
            recipients=recipients,
            filename=rendered.filename,
            content_base64=base64.b64encode(rendered.content).decode(),
            generated_at=now,
        ),
        producer=runtime.producer,
    )
    service.advance(schedule, timing=timing)
    SCHEDULED_RUNS.labels("generated").inc()
    log.info(
        "scheduled report %s (%s) for %s to %s: %d recipients",
        schedule.id,
        schedule.name,
        period.first,
        period.last,
        len(recipients),
    )


async def _skip(
    session: AsyncSession, schedule: ReportSchedule, *, now: datetime, timing: Timing, detail: str
) -> None:
    await service.start_run(session, schedule=schedule, status="skipped", now=now, detail=detail)
    log.info(
        "scheduled report %s for %s skipped: %s", schedule.id, schedule.next_period_from, detail
    )
    service.advance(schedule, timing=timing)
    SCHEDULED_RUNS.labels("skipped").inc()


async def _record_failure(
    runtime: ReportsRuntime,
    schedule_id: uuid.UUID,
    period_from: date,
    error: str,
    *,
    timing: Timing,
) -> None:
    """Try the period again later; after ``schedule_max_attempts`` record it as failed and
    move on (one broken period must not hold back the next ones)."""
    now = utcnow()
    async with runtime.sessionmaker() as session, session.begin():
        schedule = await session.scalar(
            sa.select(ReportSchedule)
            .where(ReportSchedule.id == schedule_id)
            .with_for_update(skip_locked=True)
        )
        if schedule is None or schedule.next_period_from != period_from:
            return  # deleted, edited or run elsewhere meanwhile
        service.postpone(
            schedule, error=error, now=now, base_delay=runtime.settings.schedule_poll_seconds
        )
        if schedule.attempts < runtime.settings.schedule_max_attempts:
            SCHEDULED_RUNS.labels("retry").inc()
            return
        await service.start_run(
            session, schedule=schedule, status="failed", now=now, detail=error[:2000]
        )
        service.advance(schedule, timing=timing)
        schedule.last_error = error[:2000]  # kept in view after moving on
        SCHEDULED_RUNS.labels("failed").inc()
