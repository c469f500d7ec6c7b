"""The periods of scheduled reports: weeks from Monday, calendar months, due the next
period's first day at the send hour, office-local (Asia/Jakarta has no DST: UTC+7)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from reports.schedules.periods import (
    current_period,
    due_at,
    next_period,
    period_last,
    period_start,
)

JAKARTA = ZoneInfo("Asia/Jakarta")


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (date(2026, 6, 1), date(2026, 6, 1)),  # a Monday is its own week's start
        (date(2026, 6, 7), date(2026, 6, 1)),  # Sunday ends the week
        (date(2026, 6, 8), date(2026, 6, 8)),
        (date(2027, 1, 1), date(2026, 12, 28)),  # a week across the year end
    ],
)
def test_a_week_runs_from_monday_to_sunday(day: date, monday: date) -> None:
    assert period_start(day, "weekly") == monday
    assert period_last(monday, "weekly") == date.fromordinal(monday.toordinal() + 6)
    assert next_period(monday, "weekly") == date.fromordinal(monday.toordinal() + 7)


@pytest.mark.parametrize(
    ("first", "last", "following"),
    [
        (date(2026, 1, 1), date(2026, 1, 31), date(2026, 2, 1)),
        (date(2026, 2, 1), date(2026, 2, 28), date(2026, 3, 1)),
        (date(2028, 2, 1), date(2028, 2, 29), date(2028, 3, 1)),  # leap year
        (date(2026, 4, 1), date(2026, 4, 30), date(2026, 5, 1)),
        (date(2026, 12, 1), date(2026, 12, 31), date(2027, 1, 1)),  # year end
    ],
)
def test_a_month_is_a_calendar_month(first: date, last: date, following: date) -> None:
    assert period_start(last, "monthly") == first
    assert period_start(first, "monthly") == first
    assert period_last(first, "monthly") == last
    assert next_period(first, "monthly") == following


def test_a_weekly_report_is_due_the_next_monday_at_the_send_hour() -> None:
    # Week of Mon 28 Dec 2026 - Sun 3 Jan 2027: due Mon 4 Jan 07:00 WIB = 00:00 UTC.
    assert due_at(date(2026, 12, 28), "weekly", timezone=JAKARTA, send_hour=7) == datetime(
        2027, 1, 4, 0, 0, tzinfo=UTC
    )
    # At 03:00 WIB the instant is the previous day in UTC.
    assert due_at(date(2026, 6, 1), "weekly", timezone=JAKARTA, send_hour=3) == datetime(
        2026, 6, 7, 20, 0, tzinfo=UTC
    )


def test_a_monthly_report_is_due_on_the_first_of_the_next_month() -> None:
    assert due_at(date(2026, 12, 1), "monthly", timezone=JAKARTA, send_hour=7) == datetime(
        2027, 1, 1, 0, 0, tzinfo=UTC
    )
    assert due_at(date(2026, 1, 1), "monthly", timezone=JAKARTA, send_hour=9) == datetime(
        2026, 2, 1, 2, 0, tzinfo=UTC
    )


def test_the_current_period_is_the_office_local_one() -> None:
    # Sun 31 May 2026 18:00 UTC is already Mon 1 June 01:00 in Jakarta.
    late_sunday_utc = datetime(2026, 5, 31, 18, 0, tzinfo=UTC)
    assert current_period(late_sunday_utc, "weekly", timezone=JAKARTA) == date(2026, 6, 1)
    assert current_period(late_sunday_utc, "monthly", timezone=JAKARTA) == date(2026, 6, 1)
    # ... but only 31 May in UTC itself.
    assert current_period(late_sunday_utc, "monthly", timezone=ZoneInfo("UTC")) == date(2026, 5, 1)
    # A period is not due before it has ended.
    now = datetime(2026, 6, 3, 5, 0, tzinfo=UTC)
    first = current_period(now, "weekly", timezone=JAKARTA)
    assert due_at(first, "weekly", timezone=JAKARTA, send_hour=7) > now
