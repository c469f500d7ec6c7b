"""Races: simultaneous claims, parallel creates (also across two replicas)."""

from __future__ import annotations

import asyncio
from collections import Counter

from helpdesk_testing import app_client
from tickets.main import create_app

from .conftest import quiesce


async def test_exactly_one_of_many_simultaneous_claims_wins(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agents = [await world.person("agent") for _ in range(8)]
    for _ in range(3):
        ticket = await world.create(requester)
        responses = await asyncio.gather(*(world.act(a, ticket, "claim") for a in agents))
        codes = Counter(r.status_code for r in responses)
        assert codes == {200: 1, 409: len(agents) - 1}, codes
        winner = next(r.json() for r in responses if r.status_code == 200)
        losers = [r.json()["error"] for r in responses if r.status_code == 409]
        assert all(e["code"] == "already_assigned" for e in losers)
        current = (
            await world.client.get(f"/tickets/{ticket['id']}", headers=agents[0].headers)
        ).json()
        assert current["assignee_id"] == winner["assignee_id"]
        assert current["version"] == 2
        timeline = (
            await world.client.get(f"/tickets/{ticket['id']}/timeline", headers=agents[0].headers)
        ).json()
        assert [e["kind"] for e in timeline] == ["created", "claim"]


async def test_simultaneous_first_assignments_do_not_overwrite_each_other(world):
    dispatchers = [await world.person("agent") for _ in range(4)]
    targets = [await world.person("agent") for _ in range(4)]
    ticket = await world.create(dispatchers[0])
    responses = await asyncio.gather(
        *(
            world.act(d, ticket, "assign", assignee_id=str(t.user_id))
            for d, t in zip(dispatchers, targets, strict=True)
        )
    )
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 3}


async def test_simultaneous_edits_of_one_version_never_lose_one(world):
    """Changes are written only onto the row as read: the slower of two edits of version 1
    reads again, finds version 2 and is refused, never silently overwriting the other."""
    agents = [await world.person("agent") for _ in range(2)]
    for _ in range(5):
        ticket = await world.create(agents[0])
        responses = await asyncio.gather(
            *(
                world.client.patch(
                    f"/tickets/{ticket['id']}",
                    json={"title": f"Judul dari {i}", "version": 1},
                    headers=agent.headers,
                )
                for i, agent in enumerate(agents)
            )
        )
        assert sorted(r.status_code for r in responses) == [200, 412]
        winner = next(r.json() for r in responses if r.status_code == 200)
        current = (
            await world.client.get(f"/tickets/{ticket['id']}", headers=agents[0].headers)
        ).json()
        assert (current["title"], current["version"]) == (winner["title"], 2)


async def test_fifty_parallel_creates_get_unique_consecutive_numbers(world):
    requester = await world.person("requester", unit_id=await world.unit())
    tickets = await asyncio.gather(*(world.create(requester) for _ in range(50)))
    numbers = [t["number"] for t in tickets]
    assert len(set(numbers)) == 50
    prefix = {n.rsplit("-", 1)[0] for n in numbers}
    assert len(prefix) == 1
    values = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert values == list(range(values[0], values[0] + 50))
    # Numbers grow with time: a later create gets a larger number.
    later = await world.create(requester)
    assert int(later["number"].rsplit("-", 1)[1]) > values[-1]


async def test_two_replicas_draw_from_one_sequence(world, make_token):
    replica = create_app(world.settings)
    requester = await world.person("requester", unit_id=await world.unit())
    category = await world.category_id()
    body = {"title": "Dari dua replika", "description": "x", "category_id": category}
    async with app_client(replica) as other:
        responses = await asyncio.gather(
            *(
                client.post("/tickets", json=body, headers=requester.headers)
                for _ in range(15)
                for client in (world.client, other)
            )
        )
        await quiesce(replica)
    assert all(r.status_code == 201 for r in responses)
    numbers = [r.json()["number"] for r in responses]
    assert len(set(numbers)) == len(numbers) == 30


async def test_cache_reloads_never_wait_for_the_request_pool(world):
    """Requests wait for the master-data cache while holding a pooled connection (and a
    ticket's lock): a reload that needed a pooled connection too would deadlock a busy
    service. A tiny pool and a cache that reloads on every use make that certain."""
    settings = world.settings.model_copy(
        update={
            "db_pool_size": 2,
            "db_max_overflow": 0,
            "db_driver_pool_size": 2,
            "masterdata_cache_seconds": 0,
        }
    )
    replica = create_app(settings)
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    async with app_client(replica) as client:
        created = [
            (await client.post("/tickets", json=body, headers=requester.headers)).json()
            for body in [
                {
                    "title": "Kolam koneksi",
                    "description": "x",
                    "category_id": await world.category_id(),
                }
            ]
            * 6
        ]
        responses = await asyncio.wait_for(
            asyncio.gather(
                *(client.post(f"/tickets/{t['id']}/claim", headers=agent.headers) for t in created),
                *(client.get(f"/tickets/{t['id']}", headers=requester.headers) for t in created),
            ),
            timeout=20,
        )
        await quiesce(replica)
    assert [r.status_code for r in responses] == [200] * 12


async def test_a_burst_of_comments_on_one_ticket_keeps_every_comment(world):
    """Comments do not lock the ticket (their write is conditional on the row as read), so
    a burst on one ticket must still keep every comment: none may end in a 409."""
    unit = await world.unit()
    requesters = [await world.person("requester", unit_id=unit) for _ in range(12)]
    agents = [await world.person("agent") for _ in range(12)]
    ticket = await world.create(requesters[0])
    responses = await asyncio.gather(
        *(
            world.client.post(
                f"/tickets/{ticket['id']}/comments",
                json={"body": f"Komentar {i}"},
                headers=person.headers,
            )
            for i, person in enumerate(requesters + agents)
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 24}
    comments = (
        await world.client.get(f"/tickets/{ticket['id']}/comments", headers=agents[0].headers)
    ).json()
    assert sorted(c["body"] for c in comments) == sorted(f"Komentar {i}" for i in range(24))
