"""Working-time arithmetic: office hours per weekday, holidays, one time zone.

Pure functions with no I/O, so they are cheap on the create path and easy to test. SLA
targets are counted in working time: a ticket created on Friday afternoon with a four-hour
target is due on Monday morning, and a holiday counts like a Sunday.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

# No real calendar has a working-time gap this long; it only stops a loop over a calendar
# whose every day is a holiday.
MAX_SCAN_DAYS = 3660


class NoWorkingTime(ValueError):
    """The calendar has no working time at all (every weekday closed)."""


@dataclass(frozen=True)
class WorkingCalendar:
    timezone: ZoneInfo
    # weekday (0 = Monday) -> sorted, non-overlapping (start, end) local times
    windows: dict[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = field(default_factory=frozenset)
    # Each day's spans as UTC instants, worked out once: the zone conversions are most of
    # the cost, and every create and change asks about the same few days.
    _day_spans: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @classmethod
    def build(
        cls,
        *,
        timezone: str,
        windows: Iterable[tuple[int, time, time]],
        holidays: Iterable[date] = (),
    ) -> WorkingCalendar:
        by_day: dict[int, list[tuple[time, time]]] = {}
        for weekday, start, end in windows:
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
            if end <= start:
                raise ValueError(f"office hours must end after they start ({start}-{end})")
            by_day.setdefault(weekday, []).append((start, end))
        for weekday, spans in by_day.items():
            spans.sort()
            for (_, previous_end), (next_start, _) in pairwise(spans):
                if next_start < previous_end:
                    raise ValueError(f"office hours overlap on weekday {weekday}")
        return cls(
            timezone=ZoneInfo(timezone),
            windows={day: tuple(spans) for day, spans in by_day.items()},
            holidays=frozenset(holidays),
        )

    @property
    def has_working_time(self) -> bool:
        return any(self.windows.values())

    def _spans(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's working spans as UTC instants."""
        spans = self._day_spans.get(day)
        if spans is None:
            if len(self._day_spans) >= 4096:
                self._day_spans.clear()
            spans = self._day_spans[day] = tuple(self._convert_spans(day))
        return spans

    def _convert_spans(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        if day in self.holidays:
            return
        for start, end in self.windows.get(day.weekday(), ()):
            yield (
                datetime.combine(day, start, self.timezone).astimezone(UTC),
                datetime.combine(day, end, self.timezone).astimezone(UTC),
            )

    def _local_date(self, instant: datetime) -> date:
        return _aware(instant).astimezone(self.timezone).date()

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of working time has passed since ``start``."""
        return self.add_working_times(start, [duration])[0]

    def add_working_times(self, start: datetime, durations: list[timedelta]) -> list[datetime]:
        """:meth:`add_working_time` for several durations, in one walk over the calendar
        (an SLA target's warning, due and escalation instants)."""
        start = _aware(start).astimezone(UTC)
        order = sorted(range(len(durations)), key=durations.__getitem__)
        results: list[datetime] = [start] * len(durations)
        pending = [i for i in order if durations[i] > timedelta(0)]
        if not pending:
            return results
        if not self.has_working_time:
            raise NoWorkingTime("the calendar has no office hours")
        passed = timedelta(0)  # working time from start to the current span's begin
        day = self._local_date(start)
        for _ in range(MAX_SCAN_DAYS):
            for span_start, span_end in self._spans(day):
                begin = max(span_start, start)
                if begin >= span_end:
                    continue
                available = span_end - begin
                while pending and durations[pending[0]] - passed <= available:
                    results[pending[0]] = begin + (durations[pending[0]] - passed)
                    pending.pop(0)
                if not pending:
                    return results
                passed += available
            day += timedelta(days=1)
        raise NoWorkingTime(f"no working time within {MAX_SCAN_DAYS} days of {start}")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when end is not after start."""
        start = _aware(start).astimezone(UTC)
        end = _aware(end).astimezone(UTC)
        total = timedelta(0)
        if end <= start:
            return total
        day = self._local_date(start)
        last = self._local_date(end)
        while day <= last:
            for span_start, span_end in self._spans(day):
                begin, finish = max(span_start, start), min(span_end, end)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return total


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous here; pass an aware datetime")
    return instant
