"""The first page's count under a time budget (issue 12): past TICKETS_FIRST_PAGE_BUDGET_MS the
page says total_deferred (its rows unchanged) and GET /tickets/count answers with the same
filters and visibility, itself bounded by TICKETS_COUNT_TIMEOUT_MS.

A count is made slow the honest way: a unit with thousands of tickets matching a word, each
of which the count has to read from the table, against a budget of a millisecond."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from helpdesk_common.auth import Principal
from tickets.tickets import queries
from tickets.tickets.models import Ticket

from .conftest import Person, World

# Tickets of the crowded unit: a count of a word over all of them takes tens of ms.
CROWD = 30_000
# Counted in full (the default cap would stop at 10,001 rows).
NO_CAP = 1_000_000
SLOW_FILTERS = {"q": "printer", "status": "new"}
# A description without the words searched for.
PLAIN = "Tidak bisa dipakai sejak pagi."


async def first_page(world: World, who: Person, **params: Any) -> dict[str, Any]:
    response = await world.client.get("/tickets", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def count(world: World, who: Person, **params: Any) -> dict[str, Any]:
    response = await world.client.get("/tickets/count", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def every_item(world: World, who: Person, **params: Any) -> list[dict[str, Any]]:
    """Every ticket of the list, page after page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 3, **params, **({"cursor": cursor} if cursor else {})}
        page = await first_page(world, who, **query)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def deferred_so_far() -> float:
    return REGISTRY.get_sample_value("tickets_list_counts_deferred_total") or 0.0


async def copy_ticket(world: World, ticket_id: str, times: int) -> None:
    """``times`` copies of a ticket (new ids and numbers), straight into the table."""
    columns = [c.name for c in Ticket.__table__.columns if c.name not in ("id", "number", "search")]
    names = ", ".join(columns)
    async with world.app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            sa.text(
                f"INSERT INTO tickets (id, number, {names})"
                f" SELECT gen_random_uuid(), number || '-' || n, {names}"
                " FROM tickets, generate_series(1, :times) AS n WHERE id = :id"
            ),
            {"times": times, "id": uuid.UUID(ticket_id)},
        )
        await session.execute(sa.text("ANALYZE tickets"))


@pytest.fixture(scope="module")
async def crowded(world: World) -> tuple[uuid.UUID, Person]:
    """A unit with CROWD + 1 new tickets about a printer, and an agent."""
    unit = await world.unit()
    agent = await world.person("agent")
    ticket = await world.create(agent, unit_id=str(unit))
    await copy_ticket(world, ticket["id"], CROWD)
    return unit, agent


@pytest.fixture
def uncapped(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.settings, "count_threshold", NO_CAP)


@pytest.fixture
async def budget(world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """Sets the first page's count budget (ms) for one test."""

    def set_budget(ms: int) -> None:
        monkeypatch.setattr(world.settings, "first_page_budget_ms", ms)

    yield set_budget


async def test_a_count_past_its_budget_is_deferred_and_the_page_is_the_same(
    world, crowded, uncapped, budget
):
    unit, agent = crowded
    params = {"unit_id": str(unit), **SLOW_FILTERS}
    budget(60_000)
    counted = await first_page(world, agent, **params)
    assert (counted["total"], counted["total_exact"]) == (CROWD + 1, True)
    assert counted["total_deferred"] is False

    budget(1)
    before = deferred_so_far()
    deferred = await first_page(world, agent, **params)
    assert (deferred["total"], deferred["total_exact"]) == (None, None)
    assert deferred["total_deferred"] is True
    assert deferred_so_far() == before + 1
    # The page itself is what it was with a count: the same rows, the same cursor onwards.
    assert [t["id"] for t in deferred["items"]] == [t["id"] for t in counted["items"]]
    assert len(deferred["items"]) == world.settings.page_size_default
    assert all(t["unit_id"] == str(unit) and t["status"] == "new" for t in deferred["items"])
    following = await first_page(world, agent, **params, cursor=deferred["next_cursor"])
    assert following["items"] and following["total_deferred"] is False
    assert following["total"] is None

    # The client asks separately: the same total the page would have told.
    assert await count(world, agent, **params) == {"total": CROWD + 1, "total_exact": True}


async def test_a_budget_of_zero_never_counts_on_the_first_page(world, budget):
    agent = await world.person("agent")
    unit = await world.unit()
    await world.create(agent, unit_id=str(unit))
    budget(0)
    page = await first_page(world, agent, unit_id=str(unit))
    assert (page["total"], page["total_deferred"], len(page["items"])) == (None, True, 1)
    assert await count(world, agent, unit_id=str(unit)) == {"total": 1, "total_exact": True}


async def test_the_transaction_goes_on_after_a_cancelled_count_with_its_own_timeout(world, crowded):
    unit, agent = crowded
    principal = Principal(user_id=agent.user_id, role="agent")
    filters = queries.TicketFilters(unit_id=unit, statuses=("new",), q="printer")
    now = datetime.now(UTC)
    async with world.app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(sa.text("SET LOCAL statement_timeout = '42s'"))
        cancelled = await queries.count_tickets_within(
            session, principal=principal, filters=filters, now=now, cap=NO_CAP, timeout_ms=1
        )
        assert cancelled is None
        # Same transaction: its timeout is back and its statements still run.
        assert await session.scalar(sa.text("SHOW statement_timeout")) == "42s"
        in_unit = sa.select(sa.func.count()).select_from(Ticket).where(Ticket.unit_id == unit)
        assert await session.scalar(in_unit) == CROWD + 1

        finished = await queries.count_tickets_within(
            session, principal=principal, filters=filters, now=now, cap=NO_CAP, timeout_ms=60_000
        )
        assert finished == (CROWD + 1, True)
        assert await session.scalar(sa.text("SHOW statement_timeout")) == "42s"


async def test_the_count_past_its_own_bound_answers_null_not_an_error(
    world, crowded, uncapped, monkeypatch
):
    unit, agent = crowded
    monkeypatch.setattr(world.settings, "count_timeout_ms", 1)
    answer = await count(world, agent, unit_id=str(unit), **SLOW_FILTERS)
    assert answer == {"total": None, "total_exact": False}


async def test_the_count_is_the_number_of_rows_of_every_page(world, budget):
    unit = await world.unit()
    agent = await world.person("agent")
    for title in ["Printer macet", "Printer tinta habis", "Jaringan putus", "Printer rusak"]:
        await world.create(agent, unit_id=str(unit), title=title, description=PLAIN)
    other = await world.create(agent, unit_id=str(unit), title="Printer lain", description=PLAIN)
    assert (await world.act(agent, other, "claim")).status_code == 200
    budget(0)  # the first pages defer: the count is the only total
    cases: list[dict[str, Any]] = [
        {},
        {"q": "printer"},
        {"q": "printer", "status": "new"},
        {"q": "printer", "assignee": "me"},
        {"q": "jaringan", "sort": "-priority"},
        {"q": "tidak ada kata ini"},
    ]
    for case in cases:
        params = {"unit_id": str(unit), **case}
        rows = await every_item(world, agent, **params)
        assert await count(world, agent, **params) == {"total": len(rows), "total_exact": True}
    assert [len(await every_item(world, agent, unit_id=str(unit), **c)) for c in cases] == [
        5,
        4,
        3,
        1,
        1,
        0,
    ]


async def test_requesters_count_only_their_own_units_tickets(world):
    own, other = await world.unit(), await world.unit()
    requester = await world.person("requester", unit_id=own)
    agent = await world.person("agent")
    await world.create(requester)
    for _ in range(2):
        await world.create(agent, unit_id=str(other))
    assert await count(world, requester) == {"total": 1, "total_exact": True}
    assert await count(world, requester, unit_id=str(other)) == {"total": 0, "total_exact": True}
    assert await count(world, agent, unit_id=str(other)) == {"total": 2, "total_exact": True}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"assignee": "someone"}, "assignee"),
        ({"sort": "colour"}, "sort"),
        ({"unit_id": "not-a-uuid"}, "unit_id"),
        ({"overdue": "maybe"}, "overdue"),
        ({"created_from": "yesterday"}, "created_from"),
    ],
)
async def test_bad_filters_get_the_lists_422(world, params, field):
    agent = await world.person("agent")
    listed = await world.client.get("/tickets", params=params, headers=agent.headers)
    counted = await world.client.get("/tickets/count", params=params, headers=agent.headers)
    assert listed.status_code == counted.status_code == 422
    assert counted.json()["error"] == listed.json()["error"]
    named = [f["field"].split(".")[0] for f in counted.json()["error"]["fields"]]
    assert field in named


async def test_the_count_needs_a_caller(world):
    response = await world.client.get("/tickets/count")
    assert response.status_code == 401
