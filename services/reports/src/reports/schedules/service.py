"""Scheduled reports: who may keep which schedule, and the steps of a run.

Leaders and administrators subscribe; a leader sees and edits only their own schedules, an
administrator every one. Recipients are users of the directory replica (agents, leaders,
administrators with an e-mail address), never free addresses: the reports are internal.
Nothing here commits: the routes and the worker own the transactions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import Role
from helpdesk_common.contracts.reports import ReportRecipient
from helpdesk_common.directory import DirectoryUser, active_users, users_by_id
from helpdesk_common.errors import InvalidInput, NotFound, StaleVersion
from helpdesk_common.inputs import date_in_range
from helpdesk_common.pagination import (
    after,
    cursor_datetime,
    cursor_uuid,
    decode_cursor,
    encode_cursor,
    page_of,
)
from reports.figures.queries import Filters
from reports.figures.service import check_filters
from reports.schedules import periods
from reports.schedules.models import ReportRun, ReportSchedule
from reports.schedules.periods import Cadence
from reports.schedules.schemas import (
    ScheduleCreate,
    ScheduleFilters,
    ScheduleOptions,
    ScheduleUpdate,
)
from reports.settings import ReportsSettings

RECIPIENT_ROLES: Final[tuple[Role, ...]] = ("agent", "admin", "leader")
SCHEDULES_LISTING = "report-schedules"
RUNS_LISTING = "report-runs"


@dataclass(frozen=True)
class Timing:
    """Where periods are cut and at which hour their reports are due."""

    timezone: ZoneInfo
    send_hour: int

    @classmethod
    def of(cls, settings: ReportsSettings) -> Timing:
        return cls(timezone=ZoneInfo(settings.timezone), send_hour=settings.schedule_send_hour)

    def due_at(self, first: date, cadence: Cadence) -> datetime:
        return periods.due_at(first, cadence, timezone=self.timezone, send_hour=self.send_hour)


def cadence_of(schedule: ReportSchedule) -> Cadence:
    return "monthly" if schedule.cadence == "monthly" else "weekly"


def filters_of(schedule: ReportSchedule) -> Filters:
    stored = ScheduleFilters.model_validate(schedule.filters)
    return Filters(**stored.model_dump())


def options_of(schedule: ReportSchedule) -> ScheduleOptions:
    return ScheduleOptions.model_validate(schedule.options)


# -- checks -----------------------------------------------------------------------------


async def check_recipients(session: AsyncSession, *, recipient_ids: list[uuid.UUID]) -> None:
    """Every recipient must be an active agent, leader or administrator with an address."""
    known = await users_by_id(session, user_ids=recipient_ids)
    for user_id in recipient_ids:
        user = known.get(user_id)
        if user is None or not _may_receive(user):
            raise InvalidInput(
                "invalid_recipient",
                f"User {user_id} cannot receive reports: recipients must be active agents,"
                " leaders or administrators with an e-mail address",
                field="recipient_ids",
            )


async def _check_filters(session: AsyncSession, filters: ScheduleFilters) -> None:
    """The figures' check (an unknown unit, category or agent is a 422), naming the field
    as the request body has it."""
    try:
        await check_filters(session, Filters(**filters.model_dump()))
    except InvalidInput as exc:
        raise InvalidInput(exc.code, exc.message, field=f"filters.{exc.field}") from exc


def _may_receive(user: DirectoryUser) -> bool:
    return user.is_active and user.role in RECIPIENT_ROLES and bool(user.email)


async def candidate_recipients(session: AsyncSession) -> list[DirectoryUser]:
    """Who may receive scheduled reports, ordered by name."""
    return [user for user in await active_users(session, roles=RECIPIENT_ROLES) if user.email]


# -- the schedules ----------------------------------------------------------------------


def _visible_to(principal: Principal) -> sa.ColumnElement[bool]:
    if principal.role == "admin":
        return sa.true()
    return ReportSchedule.owner_id == principal.user_id


async def list_schedules(
    session: AsyncSession, *, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[ReportSchedule], str | None]:
    """The caller's schedules (an administrator's: everyone's), newest first."""
    order = (ReportSchedule.created_at, ReportSchedule.id)
    query = (
        sa.select(ReportSchedule)
        .where(_visible_to(principal))
        .order_by(*(column.desc() for column in order))
        .limit(limit + 1)
    )
    if cursor is not None:
        values = decode_cursor(
            cursor, listing=SCHEDULES_LISTING, parse=[cursor_datetime, cursor_uuid]
        )
        query = query.where(after(order, values, descending=True))
    rows = list(await session.scalars(query))
    return page_of(
        rows,
        limit=limit,
        cursor_after=lambda s: encode_cursor(SCHEDULES_LISTING, s.created_at, s.id),
    )


async def get_schedule(
    session: AsyncSession,
    *,
    principal: Principal,
    schedule_id: uuid.UUID,
    for_update: bool = False,
) -> ReportSchedule:
    """The schedule, if the caller may see it (another leader's is not found, not denied:
    its existence is not theirs to know)."""
    query = sa.select(ReportSchedule).where(
        ReportSchedule.id == schedule_id, _visible_to(principal)
    )
    if for_update:
        query = query.with_for_update()
    schedule = await session.scalar(query)
    if schedule is None:
        raise NotFound("not_found", "No such report schedule")
    return schedule


async def create_schedule(
    session: AsyncSession,
    *,
    principal: Principal,
    data: ScheduleCreate,
    timing: Timing,
    now: datetime,
) -> ReportSchedule:
    """A new schedule; its first period is the current (unfinished) week or month."""
    await _check_filters(session, data.filters)
    await check_recipients(session, recipient_ids=data.recipient_ids)
    first = periods.current_period(now, data.cadence, timezone=timing.timezone)
    schedule = ReportSchedule(
        id=uuid.uuid4(),
        owner_id=principal.user_id,
        owner_name=principal.name or str(principal.user_id),
        owner_role=principal.role,
        name=data.name.strip(),
        report=data.report,
        cadence=data.cadence,
        filters=data.filters.model_dump(mode="json", exclude_none=True),
        options=data.options.model_dump(mode="json", exclude_none=True),
        recipient_ids=_unique(data.recipient_ids),
        language=data.language,
        is_active=data.is_active,
        next_period_from=first,
        due_at=timing.due_at(first, data.cadence),
        attempts=0,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(schedule)
    await session.flush()
    return schedule


def _unique(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


async def update_schedule(
    session: AsyncSession,
    *,
    principal: Principal,
    schedule_id: uuid.UUID,
    data: ScheduleUpdate,
    timing: Timing,
    now: datetime,
) -> ReportSchedule:
    """Change what was given. A schedule switched back on, or to another cadence, starts
    again with the current period: old periods are not sent in a flood."""
    # The row lock waits for a run in progress, so the run's advance is never overwritten.
    schedule = await get_schedule(
        session, principal=principal, schedule_id=schedule_id, for_update=True
    )
    if data.version is not None and data.version != schedule.version:
        raise StaleVersion(
            "version_mismatch",
            f"The schedule has changed since you read it (it is at version {schedule.version},"
            f" you sent {data.version}); reload it and try again",
            extra={"current_version": schedule.version},
        )
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if data.filters is not None:
        await _check_filters(session, data.filters)
        changes["filters"] = data.filters.model_dump(mode="json", exclude_none=True)
    if data.options is not None:
        changes["options"] = data.options.model_dump(mode="json", exclude_none=True)
    if data.recipient_ids is not None:
        await check_recipients(session, recipient_ids=data.recipient_ids)
        changes["recipient_ids"] = _unique(data.recipient_ids)
    if data.name is not None:
        changes["name"] = data.name.strip()
    restart = (data.is_active and not schedule.is_active) or (
        data.cadence is not None and data.cadence != schedule.cadence
    )
    _apply(schedule, changes)
    if restart:
        _restart(schedule, timing=timing, now=now)
    schedule.updated_at = now
    schedule.version += 1
    await session.flush()
    return schedule


def _apply(schedule: ReportSchedule, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if value is None:
            continue  # an explicit null changes nothing (every field is required)
        setattr(schedule, key, value)


def _restart(schedule: ReportSchedule, *, timing: Timing, now: datetime) -> None:
    cadence = cadence_of(schedule)
    schedule.next_period_from = periods.current_period(now, cadence, timezone=timing.timezone)
    schedule.due_at = timing.due_at(schedule.next_period_from, cadence)
    schedule.attempts = 0
    schedule.last_error = None


async def delete_schedule(
    session: AsyncSession, *, principal: Principal, schedule_id: uuid.UUID
) -> None:
    schedule = await get_schedule(
        session, principal=principal, schedule_id=schedule_id, for_update=True
    )
    await session.delete(schedule)
    await session.flush()


def _cursor_date(value: Any) -> date:
    day = date.fromisoformat(value)
    if not date_in_range(day):
        raise ValueError("out of range")
    return day


async def list_runs(
    session: AsyncSession,
    *,
    principal: Principal,
    schedule_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> tuple[list[ReportRun], str | None]:
    """A schedule's runs, newest period first."""
    await get_schedule(session, principal=principal, schedule_id=schedule_id)
    query = (
        sa.select(ReportRun)
        .where(ReportRun.schedule_id == schedule_id)
        .order_by(ReportRun.period_from.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        (first,) = decode_cursor(cursor, listing=RUNS_LISTING, parse=[_cursor_date])
        query = query.where(ReportRun.period_from < first)
    rows = list(await session.scalars(query))
    return page_of(
        rows, limit=limit, cursor_after=lambda r: encode_cursor(RUNS_LISTING, r.period_from)
    )


# -- the steps of a run (worker.py puts them together) ---------------------------------


async def take_due(session: AsyncSession, *, now: datetime) -> ReportSchedule | None:
    """The active schedule due the longest, locked for this transaction; a schedule another
    replica is running is skipped, never waited for (nor run twice)."""
    query = (
        sa.select(ReportSchedule)
        .where(ReportSchedule.is_active, ReportSchedule.due_at <= now)
        .order_by(ReportSchedule.due_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return await session.scalar(query)


async def start_run(
    session: AsyncSession, *, schedule: ReportSchedule, status: str, now: datetime, **values: Any
) -> uuid.UUID | None:
    """The run of the schedule's next period; None when that period already has one (the
    unique key: a period is never generated twice)."""
    cadence = cadence_of(schedule)
    run_id = uuid.uuid4()
    inserted = await session.scalar(
        insert(ReportRun)
        .values(
            id=run_id,
            schedule_id=schedule.id,
            period_from=schedule.next_period_from,
            period_to=periods.period_last(schedule.next_period_from, cadence),
            status=status,
            generated_at=now,
            **{"recipient_count": 0, **values},
        )
        .on_conflict_do_nothing(constraint="uq_report_runs_schedule_period")
        .returning(ReportRun.id)
    )
    return inserted


async def finish_run(session: AsyncSession, *, run_id: uuid.UUID, **values: Any) -> None:
    await session.execute(sa.update(ReportRun).where(ReportRun.id == run_id).values(**values))


def advance(schedule: ReportSchedule, *, timing: Timing) -> None:
    """On to the next period (the worker's change: not a new version for the API)."""
    cadence = cadence_of(schedule)
    schedule.next_period_from = periods.next_period(schedule.next_period_from, cadence)
    schedule.due_at = timing.due_at(schedule.next_period_from, cadence)
    schedule.attempts = 0
    schedule.last_error = None


def postpone(schedule: ReportSchedule, *, error: str, now: datetime, base_delay: float) -> None:
    """A failed attempt: try the same period again later, backing off up to an hour."""
    schedule.attempts += 1
    schedule.last_error = error[:2000]
    delay = min(3600.0, base_delay * 2 ** (schedule.attempts - 1))
    schedule.due_at = now + timedelta(seconds=delay)


async def resolve_recipients(
    session: AsyncSession, *, schedule: ReportSchedule
) -> list[ReportRecipient]:
    """The recipients as the directory knows them now: a user deactivated (or without an
    address, or no longer staff) since subscribing is left out."""
    known = await users_by_id(session, user_ids=schedule.recipient_ids)
    recipients = []
    for user_id in schedule.recipient_ids:
        user = known.get(user_id)
        if user is not None and _may_receive(user):
            assert user.email is not None
            recipients.append(
                ReportRecipient(
                    email=user.email,
                    name=user.full_name,
                    user_id=user.id,
                    language="en" if user.language == "en" else "id",
                )
            )
    return recipients


async def owner_may_run(session: AsyncSession, *, schedule: ReportSchedule) -> bool:
    """False when the directory says the owner is gone or no longer a leader or
    administrator: the figures were theirs to see, and are no longer."""
    owner = (await users_by_id(session, user_ids=[schedule.owner_id])).get(schedule.owner_id)
    return owner is None or (owner.is_active and owner.role in ("leader", "admin"))
