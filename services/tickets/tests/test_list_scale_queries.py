"""The list's query shapes for a million tickets (issue 12) give the rows and the order they
gave before: the overdue condition written for the open tickets' index, keyset pages along
each sort's index across equal sort keys, the priority sort paged one priority at a time,
and the migrations creating the indexes the models declare."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from helpdesk_testing.migrations import model_differences
from tickets.models import metadata
from tickets.tickets.models import Ticket
from tickets.tickets.queries import FAR_FUTURE

# The overdue condition as it was written before issue 12 (each branch naming its statuses):
# the list must select exactly the tickets this selects, NULLs included.
OVERDUE_BEFORE = """
(status = 'new' AND first_response_at IS NULL AND first_response_due_at <= :now)
OR (status IN ('new', 'in_progress') AND sla_paused_since IS NULL AND resolution_due_at <= :now)
"""
SORTS = ("created_at", "updated_at", "number", "priority", "due")


async def set_fields(world: Any, ticket_id: str, **values: Any) -> None:
    """Put a ticket in a state the API would take days to reach (targets passed, ...)."""
    async with world.app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            sa.update(Ticket).where(Ticket.id == uuid.UUID(ticket_id)).values(**values)
        )


async def listed(world: Any, who: Any, **params: Any) -> list[dict[str, Any]]:
    """Every ticket of the list, page after page (``limit`` small: many cursors)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
        response = await world.client.get("/tickets", params=query, headers=who.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_migrations_create_the_indexes_the_models_declare(world):
    async with world.app.state.runtime.engine.connect() as connection:
        diff = await connection.run_sync(model_differences, metadata)
    indexes = [d for d in diff if isinstance(d, tuple) and d[0].endswith("_index")]
    assert indexes == []
    names = {index.name for index in metadata.tables["tickets"].indexes}
    assert {"ix_tickets_updated", "ix_tickets_due", "ix_tickets_unit_list"} <= names
    assert "ix_tickets_unit_created" not in names  # replaced by ix_tickets_unit_list


async def test_overdue_selects_what_the_clock_rules_select_paused_clocks_and_nulls_included(
    world,
):
    unit = await world.unit()
    agent = await world.person("agent")
    now = datetime.now(UTC)
    past, future = now - timedelta(days=2), now + timedelta(days=2)
    # (status, first response given, paused since, first response due, resolution due)
    states = [
        ("new", False, None, past, future),  # no first response in time: overdue
        ("new", True, None, past, future),  # answered in time enough: not
        ("new", False, None, future, past),  # resolution late, clock running: overdue
        ("new", False, None, None, None),  # no targets at all
        ("new", False, None, None, past),
        ("in_progress", True, None, past, past),  # late and running: overdue
        ("in_progress", True, past, past, past),  # late but paused: not
        ("in_progress", True, None, past, None),
        ("in_progress", True, None, future, future),
        ("pending", True, past, past, past),  # waiting for the requester: paused
        ("pending", True, None, past, past),  # a pending ticket is never overdue
        ("resolved", True, past, past, past),
        ("closed", True, None, past, past),
        ("rejected", False, None, past, past),
    ]
    ids = []
    for status, answered, paused, first_due, resolution_due in states:
        ticket = await world.create(agent, unit_id=str(unit))
        await set_fields(
            world,
            ticket["id"],
            status=status,
            first_response_at=now - timedelta(days=3) if answered else None,
            sla_paused_since=paused,
            first_response_due_at=first_due,
            resolution_due_at=resolution_due,
        )
        ids.append(ticket["id"])

    async with world.app.state.runtime.sessionmaker() as session:
        rows = await session.execute(
            sa.text(f"SELECT id, ({OVERDUE_BEFORE}) AS overdue FROM tickets WHERE unit_id = :unit"),
            {"now": now, "unit": unit},
        )
        truth = {str(row.id): row.overdue for row in rows}
    expected_overdue = sorted(i for i in ids if truth[i] is True)
    expected_not = sorted(i for i in ids if truth[i] is False)
    assert len(expected_overdue) == 4 and len(expected_not) == 8  # two are NULL: in neither

    for sort in ("-created_at", "due", "priority", "-updated_at"):
        overdue = await listed(world, agent, unit_id=str(unit), overdue="true", sort=sort)
        on_time = await listed(world, agent, unit_id=str(unit), overdue="false", sort=sort)
        assert sorted(t["id"] for t in overdue) == expected_overdue, sort
        assert sorted(t["id"] for t in on_time) == expected_not, sort
    first = await world.client.get(
        "/tickets", params={"unit_id": str(unit), "overdue": "true"}, headers=agent.headers
    )
    assert (first.json()["total"], first.json()["total_exact"]) == (4, True)
    # The same tickets through the open-status filter (a subset of the partial index's).
    both = await listed(world, agent, unit_id=str(unit), overdue="true", status="new")
    assert sorted(t["id"] for t in both) == sorted(
        i for i, s in zip(ids, states, strict=True) if truth[i] and s[0] == "new"
    )


def sort_key(ticket: dict[str, Any], sort: str, ranks: dict[str, int]) -> tuple[Any, ...]:
    """The order the list promises, computed here: the sort's value, then the id."""
    value: Any
    if sort == "priority":
        value = ranks[ticket["priority"]]
    elif sort == "due":
        due = ticket["resolution_due_at"]
        value = datetime.fromisoformat(due) if due else FAR_FUTURE
    elif sort == "number":
        value = ticket["number"]
    else:
        value = datetime.fromisoformat(ticket[sort])
    return (value, uuid.UUID(ticket["id"]))


@pytest.mark.parametrize("sort", SORTS)
async def test_pages_follow_each_sort_across_equal_keys_both_ways(world, sort):
    unit = await world.unit()
    agent = await world.person("agent")
    same = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    priorities = ["high", "normal", "high", "low", "normal", "high", "critical", "normal"]
    for n, priority in enumerate(priorities):
        ticket = await world.create(agent, unit_id=str(unit), priority=priority)
        # Equal created, updated and due instants for most of them (ties broken by id), and
        # two without a due date (sorted as the far future).
        at = same if n % 3 else same + timedelta(hours=n)
        await set_fields(
            world,
            ticket["id"],
            created_at=at,
            updated_at=at,
            resolution_due_at=None if n in (2, 5) else at,
        )
    ranks = {"low": 10, "normal": 20, "high": 30, "critical": 40}
    everything = await listed(world, agent, unit_id=str(unit), sort="created_at")
    assert len(everything) == len(priorities)
    expected = sorted(everything, key=lambda t: sort_key(t, sort, ranks))
    ascending = await listed(world, agent, unit_id=str(unit), sort=sort)
    descending = await listed(world, agent, unit_id=str(unit), sort=f"-{sort}")
    assert [t["id"] for t in ascending] == [t["id"] for t in expected]
    assert [t["id"] for t in descending] == [t["id"] for t in reversed(expected)]
    # With another filter and q too (the priority sort's per-priority pages filter alike).
    high = await listed(world, agent, unit_id=str(unit), sort=sort, priority="high", q="printer")
    assert [t["id"] for t in high] == [t["id"] for t in expected if t["priority"] == "high"]


async def test_the_priority_sort_of_a_requester_keeps_to_their_unit(world):
    unit, other = await world.unit(), await world.unit()
    requester = await world.person("requester", unit_id=unit)
    agent = await world.person("agent")
    mine = [
        await world.create(agent, unit_id=str(unit), priority=p) for p in ("low", "high", "low")
    ]
    await world.create(agent, unit_id=str(other), priority="critical")
    seen = await listed(world, requester, sort="-priority")
    assert {t["id"] for t in seen} == {t["id"] for t in mine}
    assert [t["priority"] for t in seen] == ["high", "low", "low"]


async def test_a_cursor_of_the_priority_sort_is_refused_by_another_sort(world):
    agent = await world.person("agent")
    unit = await world.unit()
    for _ in range(3):
        await world.create(agent, unit_id=str(unit))
    page = await world.client.get(
        "/tickets",
        params={"unit_id": str(unit), "sort": "priority", "limit": 1},
        headers=agent.headers,
    )
    cursor = page.json()["next_cursor"]
    refused = await world.client.get(
        "/tickets",
        params={"unit_id": str(unit), "sort": "due", "cursor": cursor},
        headers=agent.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_cursor"
    assert refused.json()["error"]["fields"][0]["field"] == "cursor"
