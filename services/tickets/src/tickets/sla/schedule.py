"""SLA thresholds of one ticket: when its targets warn, fall due and escalate.

Both clocks start when the ticket is created. The first-response clock runs until the first
response. The resolution clock runs while the ticket is ``new`` or ``in_progress`` and
stops while it is ``pending`` (waiting for the requester) or ``resolved`` (waiting for the
confirmation); the working time it was stopped pushes every resolution threshold out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from tickets.sla.calendar import WorkingCalendar

RESOLUTION_CLOCK_RUNS = ("new", "in_progress")


class SlaTicket(Protocol):
    """The fields of a ticket the SLA reads and sets: the write path's ``TicketRecord`` and
    the ORM model ``Ticket`` both have them."""

    status: str
    created_at: datetime
    first_response_at: datetime | None
    sla_first_response_minutes: int | None
    sla_resolution_minutes: int | None
    first_response_warn_at: datetime | None
    first_response_due_at: datetime | None
    first_response_escalate_at: datetime | None
    resolution_warn_at: datetime | None
    resolution_due_at: datetime | None
    resolution_escalate_at: datetime | None
    first_response_warned_at: datetime | None
    first_response_breached_at: datetime | None
    first_response_escalated_at: datetime | None
    resolution_warned_at: datetime | None
    resolution_breached_at: datetime | None
    resolution_escalated_at: datetime | None
    sla_paused_since: datetime | None
    sla_paused_seconds: int


@dataclass(frozen=True)
class SlaRatios:
    warning: float
    escalation: float


@dataclass(frozen=True)
class Thresholds:
    warn_at: datetime
    due_at: datetime
    escalate_at: datetime


def thresholds(
    calendar: WorkingCalendar,
    *,
    start: datetime,
    minutes: int,
    paused: timedelta,
    ratios: SlaRatios,
) -> Thresholds:
    target = timedelta(minutes=minutes)
    warn_at, due_at, escalate_at = calendar.add_working_times(
        start,
        [target * ratios.warning + paused, target + paused, target * ratios.escalation + paused],
    )
    return Thresholds(warn_at=warn_at, due_at=due_at, escalate_at=escalate_at)


def plan(
    ticket: SlaTicket,
    *,
    calendar: WorkingCalendar,
    first_response_minutes: int | None,
    resolution_minutes: int | None,
    ratios: SlaRatios,
) -> None:
    """Set the ticket's targets and thresholds (at creation, or when its priority changes).

    Thresholds that already fired keep their record, so a target never fires twice.
    """
    ticket.sla_first_response_minutes = first_response_minutes
    ticket.sla_resolution_minutes = resolution_minutes
    if first_response_minutes is None or not calendar.has_working_time:
        ticket.first_response_warn_at = None
        ticket.first_response_due_at = None
        ticket.first_response_escalate_at = None
    else:
        fr = thresholds(
            calendar,
            start=ticket.created_at,
            minutes=first_response_minutes,
            paused=timedelta(0),
            ratios=ratios,
        )
        ticket.first_response_warn_at = fr.warn_at
        ticket.first_response_due_at = fr.due_at
        ticket.first_response_escalate_at = fr.escalate_at
    _plan_resolution(ticket, calendar=calendar, ratios=ratios)


def _plan_resolution(ticket: SlaTicket, *, calendar: WorkingCalendar, ratios: SlaRatios) -> None:
    minutes = ticket.sla_resolution_minutes
    if minutes is None or not calendar.has_working_time:
        ticket.resolution_warn_at = None
        ticket.resolution_due_at = None
        ticket.resolution_escalate_at = None
        return
    res = thresholds(
        calendar,
        start=ticket.created_at,
        minutes=minutes,
        paused=timedelta(seconds=ticket.sla_paused_seconds or 0),
        ratios=ratios,
    )
    ticket.resolution_warn_at = res.warn_at
    ticket.resolution_due_at = res.due_at
    ticket.resolution_escalate_at = res.escalate_at


def stop_clock(ticket: SlaTicket, *, now: datetime) -> None:
    if ticket.sla_paused_since is None:
        ticket.sla_paused_since = now


def start_clock(
    ticket: SlaTicket, *, now: datetime, calendar: WorkingCalendar, ratios: SlaRatios
) -> None:
    """Resume the resolution clock: the stopped working time moves the due dates out."""
    if ticket.sla_paused_since is None:
        return
    stopped = calendar.working_time_between(ticket.sla_paused_since, now)
    ticket.sla_paused_seconds = (ticket.sla_paused_seconds or 0) + int(stopped.total_seconds())
    ticket.sla_paused_since = None
    _plan_resolution(ticket, calendar=calendar, ratios=ratios)


def resolution_working_seconds(
    ticket: SlaTicket, *, now: datetime, calendar: WorkingCalendar
) -> int:
    """Working time from creation to ``now`` during which the resolution clock ran."""
    elapsed = calendar.working_time_between(ticket.created_at, now)
    stopped = timedelta(seconds=ticket.sla_paused_seconds or 0)
    if ticket.sla_paused_since is not None:
        stopped += calendar.working_time_between(ticket.sla_paused_since, now)
    return max(0, int((elapsed - stopped).total_seconds()))


def first_response_running(ticket: SlaTicket) -> bool:
    return ticket.status == "new" and ticket.first_response_at is None


def resolution_running(ticket: SlaTicket) -> bool:
    return ticket.status in RESOLUTION_CLOCK_RUNS and ticket.sla_paused_since is None


def next_check(ticket: SlaTicket) -> datetime | None:
    """The earliest threshold that has yet to fire while its clock runs (the scheduler's key)."""
    pending: list[datetime] = []
    if first_response_running(ticket):
        for at, fired in (
            (ticket.first_response_warn_at, ticket.first_response_warned_at),
            (ticket.first_response_due_at, ticket.first_response_breached_at),
            (ticket.first_response_escalate_at, ticket.first_response_escalated_at),
        ):
            if at is not None and fired is None:
                pending.append(at)
    if resolution_running(ticket):
        for at, fired in (
            (ticket.resolution_warn_at, ticket.resolution_warned_at),
            (ticket.resolution_due_at, ticket.resolution_breached_at),
            (ticket.resolution_escalate_at, ticket.resolution_escalated_at),
        ):
            if at is not None and fired is None:
                pending.append(at)
    return min(pending) if pending else None


def is_overdue(ticket: SlaTicket, *, now: datetime) -> bool:
    if (
        first_response_running(ticket)
        and ticket.first_response_due_at is not None
        and ticket.first_response_due_at <= now
    ):
        return True
    return (
        resolution_running(ticket)
        and ticket.resolution_due_at is not None
        and ticket.resolution_due_at <= now
    )
