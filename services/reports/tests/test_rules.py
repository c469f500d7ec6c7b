"""The projection's and the periods' rules, pure: no database, no broker."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpdesk_common.errors import InvalidInput
from reports.figures.period import GroupBy, Period, buckets, period_of
from reports.figures.queries import choose_rollup
from reports.readmodel.histogram import bounds, bucket_of, percentile
from reports.readmodel.projection import (
    NONE_ID,
    contributions,
    difference,
    fact_of,
    merge,
    sla_outcomes,
)

from .conftest import snapshot

JAKARTA = ZoneInfo("Asia/Jakarta")


def test_a_newer_version_wins_and_an_older_one_changes_nothing() -> None:
    v1 = fact_of(snapshot(version=1))
    v2 = fact_of(snapshot(ticket_id=v1.ticket_id, version=2, status="in_progress"))
    assert merge(v1, v2) == v2
    assert merge(v2, v1) is None
    assert merge(v2, v2) is None


def test_sla_stamps_and_escalations_merge_across_versions() -> None:
    stamp = datetime(2026, 3, 2, 5, tzinfo=UTC)
    breached_v1 = fact_of(snapshot(version=1, first_response_breached_at=stamp, escalation_level=1))
    plain_v2 = fact_of(snapshot(ticket_id=breached_v1.ticket_id, version=2, status="in_progress"))
    merged = merge(plain_v2, breached_v1)
    assert merged is not None
    assert merged.version == 2
    assert merged.first_response_breached_at == stamp
    assert merged.escalation_level == 1
    assert merge(merged, breached_v1) is None


def test_sla_outcomes() -> None:
    due = datetime(2026, 3, 2, 4, tzinfo=UTC)
    on_time = fact_of(snapshot(first_response_at=due, first_response_due_at=due))
    late = fact_of(
        snapshot(first_response_at=due + timedelta(seconds=1), first_response_due_at=due)
    )
    waiting = fact_of(snapshot(first_response_due_at=due))
    stamped = fact_of(snapshot(first_response_due_at=due, first_response_breached_at=due))
    no_target = fact_of(snapshot(first_response_at=due))
    assert [sla_outcomes(f)[0] for f in (on_time, late, waiting, stamped, no_target)] == [
        "met",
        "breached",
        None,
        "breached",
        None,
    ]
    rejected = fact_of(snapshot(status="rejected", resolution_due_at=due, updated_at=due))
    assert sla_outcomes(rejected)[1] is None
    assert rejected.done_at == due


def test_contributions_fall_on_office_local_days() -> None:
    # 23:30 UTC on 1 March is 06:30 on 2 March in Jakarta.
    created = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    resolved = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    fact = fact_of(
        snapshot(
            created_at=created,
            status="resolved",
            resolved_at=resolved,
            resolution_seconds=600,
            reopen_count=1,
        )
    )
    by_day = {key[0]: counts for key, counts in contributions(fact, timezone=JAKARTA).items()}
    assert set(by_day) == {date(2026, 3, 2), date(2026, 3, 3)}
    assert by_day[date(2026, 3, 2)]["created"] == 1
    assert by_day[date(2026, 3, 3)] == {
        "resolved": 1,
        "res_seconds": 600,
        "reopened": 1,
        "done": 1,
        f"hres_{bucket_of(600)}": 1,
    }
    assert fact.category_id == NONE_ID and fact.assignee_id == NONE_ID


def test_difference_subtracts_what_the_old_facts_contributed() -> None:
    old = fact_of(snapshot(version=1))
    new = fact_of(
        snapshot(ticket_id=old.ticket_id, version=2, status="in_progress", assignee_id=uuid.uuid4())
    )
    delta = difference(contributions(old, timezone=JAKARTA), contributions(new, timezone=JAKARTA))
    # The ticket moves from one assignee's cell (nobody) to another's.
    assert sorted(sum(c.values()) for c in delta.values()) == [-2, 2]
    assert (
        difference(contributions(new, timezone=JAKARTA), contributions(new, timezone=JAKARTA)) == {}
    )


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [("2026-03-10", "2026-03-01", "to"), ("2014-01-01", "2026-01-01", "from")],
)
def test_bad_periods_name_the_field(first: str, last: str, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        period_of(date.fromisoformat(first), date.fromisoformat(last), timezone=JAKARTA)
    assert raised.value.field == field


def test_a_one_day_period_is_that_whole_office_day() -> None:
    period = period_of(date(2026, 3, 2), date(2026, 3, 2), timezone=JAKARTA)
    assert period.start == datetime(2026, 3, 1, 17, tzinfo=UTC)
    assert period.end - period.start == timedelta(days=1)


def test_buckets_weeks_start_on_monday_and_months_are_calendar_months() -> None:
    period = period_of(date(2026, 3, 4), date(2026, 3, 17), timezone=JAKARTA)  # Wed .. Tue
    assert buckets(period, "week") == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    assert buckets(period_of(date(2026, 1, 31), date(2026, 3, 1), timezone=JAKARTA), "month") == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    assert buckets(period_of(date(2025, 12, 31), date(2026, 1, 1), timezone=JAKARTA), "year") == [
        date(2025, 1, 1),
        date(2026, 1, 1),
    ]


def test_the_smallest_rollup_that_can_answer_is_chosen() -> None:
    whole = period_of(date(2026, 1, 1), date(2026, 12, 31), timezone=JAKARTA)
    partial = period_of(date(2026, 1, 15), date(2026, 12, 31), timezone=JAKARTA)

    def chosen(columns: set[str], period: Period, group_by: GroupBy | None) -> str:
        return choose_rollup(columns=columns, period=period, group_by=group_by).table

    assert chosen(set(), whole, "month") == "rollup_day_channel"
    assert chosen({"priority"}, partial, "week") == "rollup_day_priority"
    assert chosen({"assignee_id"}, partial, None) == "rollup_day_agent"
    assert chosen({"assignee_id", "unit_id"}, whole, "year") == "rollup_month_agent"
    assert chosen({"assignee_id", "unit_id"}, partial, None) == "rollup_day"
    assert chosen({"category_id", "unit_id"}, whole, "month") == "rollup_month"
    assert chosen({"category_id", "unit_id"}, whole, "week") == "rollup_day"


def test_buckets_hold_their_bounds_and_percentiles_fall_within_an_eighth() -> None:
    for seconds in (0, 59, 60, 61, 2700, 3600, 28_800, 10**7):
        low, high = bounds(bucket_of(seconds))
        assert low <= seconds < high or bucket_of(seconds) == 63
    values = [600, 1800, 2700, 5400, 6300, 9000, 21_600, 27_900, 45, 120_000]
    histogram: dict[int, int] = {}
    for value in values:
        histogram[bucket_of(value)] = histogram.get(bucket_of(value), 0) + 1
    ordered = sorted(values)
    for q in (0.5, 0.9):
        position = q * (len(ordered) - 1)
        below, above = ordered[int(position)], ordered[min(int(position) + 1, len(ordered) - 1)]
        exact = below + (above - below) * (position - int(position))
        estimate = percentile(histogram, q)
        assert estimate is not None
        # Within the bucket of the exact value's neighbours.
        assert min(below, exact) * 0.8 <= estimate <= max(above, exact) * 1.25
    assert percentile({}, 0.5) is None
