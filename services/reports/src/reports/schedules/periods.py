"""The periods of a scheduled report, in the office's time zone.

A weekly report covers Monday to Sunday and is due the following Monday at the send hour; a
monthly report covers a calendar month and is due on the 1st of the next month at that hour.
A period is named by its first day; its report's due time is an instant (UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

Cadence = Literal["weekly", "monthly"]
CADENCES: Final[tuple[Cadence, ...]] = ("weekly", "monthly")


def period_start(day: date, cadence: Cadence) -> date:
    """The first day of the period ``day`` falls in (a Monday, or the 1st)."""
    if cadence == "weekly":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(first: date, cadence: Cadence) -> date:
    """The first day of the period after the one starting on ``first``."""
    if cadence == "weekly":
        return first + timedelta(days=7)
    # Day 28 exists in every month; four days on is always in the next one.
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_last(first: date, cadence: Cadence) -> date:
    """The last day (inclusive) of the period starting on ``first``."""
    return next_period(first, cadence) - timedelta(days=1)


def due_at(first: date, cadence: Cadence, *, timezone: ZoneInfo, send_hour: int) -> datetime:
    """When the report of the period starting on ``first`` is due: the send hour, office-local,
    on the first day after the period."""
    local = datetime.combine(next_period(first, cadence), time(hour=send_hour), timezone)
    return local.astimezone(UTC)


def current_period(now: datetime, cadence: Cadence, *, timezone: ZoneInfo) -> date:
    """The period (its first day) that ``now`` falls in, office-local: not yet finished."""
    return period_start(now.astimezone(timezone).date(), cadence)
