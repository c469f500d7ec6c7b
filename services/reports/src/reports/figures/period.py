"""Periods in office-local time: from day D1 to day D2 means both whole days.

Weeks start on Monday, a month is a calendar month, a year a calendar year. A period's
instants run from D1 00:00 to (D2 + 1 day) 00:00 in the office's time zone, so a period of
one day is that whole day (the browser-side dashboard this replaces counted zero tickets for
it: it left the end date out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from helpdesk_common.errors import InvalidInput

GroupBy = Literal["day", "week", "month", "year"]
GROUP_BY: Final[tuple[GroupBy, ...]] = ("day", "week", "month", "year")
MAX_YEARS: Final = 10


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive
    timezone: ZoneInfo

    def instant(self, day: date) -> datetime:
        """Midnight at the start of ``day``, office-local, as a UTC instant."""
        return datetime.combine(day, time(), self.timezone).astimezone(UTC)

    @property
    def start(self) -> datetime:
        return self.instant(self.first)

    @property
    def end(self) -> datetime:
        """Exclusive: the first instant after the period."""
        return self.instant(self.last + timedelta(days=1))

    @property
    def whole_months(self) -> bool:
        return self.first.day == 1 and (self.last + timedelta(days=1)).day == 1


def today(timezone: ZoneInfo) -> date:
    return datetime.now(timezone).date()


def period_of(
    first: date | None, last: date | None, *, timezone: ZoneInfo, today_: date | None = None
) -> Period:
    """The period asked for; this month so far when neither end is given."""
    now = today_ or today(timezone)
    if first is None and last is None:
        first, last = now.replace(day=1), now
    elif first is None:
        assert last is not None
        first = last.replace(day=1)
    elif last is None:
        last = max(first, now)
    if last < first:
        raise InvalidInput(
            "invalid_period", f"The period ends ({last}) before it starts ({first})", field="to"
        )
    if last - first > timedelta(days=366 * MAX_YEARS):
        raise InvalidInput(
            "invalid_period",
            f"A period may span at most {MAX_YEARS} years ({first} to {last} is longer)",
            field="from",
        )
    return Period(first=first, last=last, timezone=timezone)


def bucket_of(day: date, group_by: GroupBy) -> date:
    """The first day of the bucket ``day`` falls in."""
    if group_by == "week":
        return day - timedelta(days=day.weekday())
    if group_by == "month":
        return day.replace(day=1)
    if group_by == "year":
        return day.replace(month=1, day=1)
    return day


def next_bucket(start: date, group_by: GroupBy) -> date:
    if group_by == "day":
        return start + timedelta(days=1)
    if group_by == "week":
        return start + timedelta(days=7)
    if group_by == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start.replace(year=start.year + 1)


def buckets(period: Period, group_by: GroupBy) -> list[date]:
    """Every bucket the period touches, in order (the first and last may be partial)."""
    out: list[date] = []
    start = bucket_of(period.first, group_by)
    while start <= period.last:
        out.append(start)
        start = next_bucket(start, group_by)
    return out
