"""Working-time arithmetic and SLA planning: pure functions, no database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tickets.sla.calendar import NoWorkingTime, WorkingCalendar
from tickets.sla.schedule import (
    SlaRatios,
    next_check,
    plan,
    resolution_working_seconds,
    start_clock,
    stop_clock,
)
from tickets.tickets.models import Ticket

JAKARTA = ZoneInfo("Asia/Jakarta")
RATIOS = SlaRatios(warning=0.75, escalation=1.0)


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA)


def office(holidays: tuple[date, ...] = ()) -> WorkingCalendar:
    """Mon-Fri 08:00-16:00 (eight working hours a day)."""
    return WorkingCalendar.build(
        timezone="Asia/Jakarta",
        windows=[(day, time(8), time(16)) for day in range(5)],
        holidays=holidays,
    )


# 2026-11-20 is a Friday, 2026-11-23 a Monday.


def test_adding_within_one_day():
    assert office().add_working_time(wib(2026, 11, 18, 9), timedelta(hours=2)) == wib(
        2026, 11, 18, 11
    )


def test_start_before_opening_counts_from_opening():
    assert office().add_working_time(wib(2026, 11, 18, 6), timedelta(hours=1)) == wib(
        2026, 11, 18, 9
    )


def test_friday_afternoon_spills_over_the_weekend_to_monday():
    due = office().add_working_time(wib(2026, 11, 20, 14), timedelta(hours=4))
    assert due == wib(2026, 11, 23, 10)


def test_created_on_saturday_starts_on_monday_morning():
    due = office().add_working_time(wib(2026, 11, 21, 10), timedelta(minutes=30))
    assert due == wib(2026, 11, 23, 8, 30)


def test_holiday_counts_like_a_sunday():
    calendar = office(holidays=(date(2026, 11, 23),))
    due = calendar.add_working_time(wib(2026, 11, 20, 14), timedelta(hours=4))
    assert due == wib(2026, 11, 24, 10)


def test_exactly_filling_a_day_ends_at_closing_time():
    assert office().add_working_time(wib(2026, 11, 18, 8), timedelta(hours=8)) == wib(
        2026, 11, 18, 16
    )


def test_several_windows_a_day_skip_the_break():
    calendar = WorkingCalendar.build(
        timezone="Asia/Jakarta",
        windows=[(4, time(7, 30), time(11, 30)), (4, time(13, 30), time(16, 30))],
    )
    due = calendar.add_working_time(wib(2026, 11, 20, 11), timedelta(hours=1))
    assert due == wib(2026, 11, 20, 14)


def test_working_time_between_skips_nights_weekends_and_holidays():
    calendar = office(holidays=(date(2026, 11, 23),))
    between = calendar.working_time_between(wib(2026, 11, 20, 15), wib(2026, 11, 24, 9))
    assert between == timedelta(hours=2)
    assert calendar.working_time_between(wib(2026, 11, 24, 9), wib(2026, 11, 20, 15)) == (
        timedelta(0)
    )


@pytest.mark.parametrize("hours", [0.5, 3, 8, 13, 40, 100])
def test_adding_and_measuring_agree(hours: float):
    calendar = office(holidays=(date(2026, 11, 25),))
    start = wib(2026, 11, 19, 10, 17)
    due = calendar.add_working_time(start, timedelta(hours=hours))
    assert calendar.working_time_between(start, due) == timedelta(hours=hours)


def test_results_are_utc_instants():
    due = office().add_working_time(datetime(2026, 11, 18, 1, 0, tzinfo=UTC), timedelta(hours=1))
    assert due.utcoffset() == timedelta(0)
    assert due == wib(2026, 11, 18, 9)


def test_invalid_calendars_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        WorkingCalendar.build(
            timezone="Asia/Jakarta",
            windows=[(0, time(8), time(12)), (0, time(11), time(16))],
        )
    with pytest.raises(ValueError, match="end after"):
        WorkingCalendar.build(timezone="Asia/Jakarta", windows=[(0, time(16), time(8))])
    with pytest.raises(NoWorkingTime):
        WorkingCalendar.build(timezone="Asia/Jakarta", windows=[]).add_working_time(
            wib(2026, 11, 18), timedelta(hours=1)
        )


def make_ticket(created_at: datetime) -> Ticket:
    return Ticket(
        id=uuid.uuid4(),
        status="new",
        created_at=created_at,
        sla_paused_seconds=0,
        escalation_level=0,
    )


def test_plan_sets_warning_due_and_escalation_in_working_time():
    ticket = make_ticket(wib(2026, 11, 20, 14))
    plan(
        ticket,
        calendar=office(),
        first_response_minutes=60,
        resolution_minutes=8 * 60,
        ratios=SlaRatios(warning=0.75, escalation=1.25),
    )
    assert ticket.first_response_warn_at == wib(2026, 11, 20, 14, 45)
    assert ticket.first_response_due_at == wib(2026, 11, 20, 15)
    assert ticket.first_response_escalate_at == wib(2026, 11, 20, 15, 15)
    # 2 h on Friday afternoon, the rest on Monday: 6 h (75 %), 8 h and 10 h (125 %).
    assert ticket.resolution_warn_at == wib(2026, 11, 23, 12)
    assert ticket.resolution_due_at == wib(2026, 11, 23, 14)
    assert ticket.resolution_escalate_at == wib(2026, 11, 23, 16)
    assert next_check(ticket) == ticket.first_response_warn_at


def test_pending_pauses_the_resolution_clock_and_resume_pushes_the_due_date():
    calendar = office()
    ticket = make_ticket(wib(2026, 11, 18, 8))
    plan(
        ticket,
        calendar=calendar,
        first_response_minutes=None,
        resolution_minutes=480,
        ratios=RATIOS,
    )
    assert ticket.resolution_due_at == wib(2026, 11, 18, 16)
    # In progress at 09:00, pending from 10:00 until 10:00 the next day: 8 working hours.
    ticket.status = "pending"
    stop_clock(ticket, now=wib(2026, 11, 18, 10))
    assert next_check(ticket) is None
    ticket.status = "in_progress"
    start_clock(ticket, now=wib(2026, 11, 19, 10), calendar=calendar, ratios=RATIOS)
    assert ticket.sla_paused_seconds == 8 * 3600
    assert ticket.resolution_due_at == wib(2026, 11, 19, 16)
    assert ticket.resolution_warn_at == wib(2026, 11, 19, 14)
    assert next_check(ticket) == ticket.resolution_warn_at
    # Resolved at 11:00: 2 h before the pause, 1 h after it.
    assert resolution_working_seconds(ticket, now=wib(2026, 11, 19, 11), calendar=calendar) == (
        3 * 3600
    )


def test_a_pause_over_the_weekend_only_counts_working_time():
    calendar = office()
    ticket = make_ticket(wib(2026, 11, 20, 8))
    plan(
        ticket,
        calendar=calendar,
        first_response_minutes=None,
        resolution_minutes=960,
        ratios=RATIOS,
    )
    ticket.status = "pending"
    stop_clock(ticket, now=wib(2026, 11, 20, 15))
    ticket.status = "in_progress"
    start_clock(ticket, now=wib(2026, 11, 23, 9), calendar=calendar, ratios=RATIOS)
    assert ticket.sla_paused_seconds == 2 * 3600
    # 16 working hours from Friday 08:00 plus 2 paused: Tuesday 10:00.
    assert ticket.resolution_due_at == wib(2026, 11, 24, 10)


def test_fired_thresholds_are_not_checked_again():
    ticket = make_ticket(wib(2026, 11, 18, 8))
    plan(
        ticket, calendar=office(), first_response_minutes=60, resolution_minutes=480, ratios=RATIOS
    )
    ticket.first_response_warned_at = ticket.first_response_warn_at
    assert next_check(ticket) == ticket.first_response_due_at
    ticket.first_response_at = wib(2026, 11, 18, 8, 50)
    assert next_check(ticket) == ticket.resolution_warn_at
