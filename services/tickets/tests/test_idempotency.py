"""Idempotency-Key on the tickets service's writes (helpdesk_common.idempotency): a repeat
replays the first answer and does nothing, also when the repeats race, on two replicas."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from helpdesk_common.idempotency import delete_expired_keys
from helpdesk_testing import app_client, eventually
from tickets.main import create_app

from .conftest import Person, World, quiesce

# The relay publishes only when a commit wakes it (the poll would take 30 s): a keyed write's
# events must wake it after the key's transaction commits, not before.
WORLD_SETTINGS = {"outbox_poll_interval": 30.0, "outbox_gather_seconds": 0.0}


def keyed(who: Person, key: str) -> dict[str, str]:
    return {**who.headers, "Idempotency-Key": key}


async def ticket_body(world: World, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "description": "Aplikasi kepegawaian tidak bisa dibuka sejak pagi.",
        "category_id": await world.category_id(),
    }


async def scalar(world: World, sql: str, **params: Any) -> Any:
    async with world.app.state.runtime.sessionmaker() as session:
        return (await session.execute(sa.text(sql), params)).scalar_one()


async def tickets_titled(world: World, title: str) -> int:
    return int(await scalar(world, "SELECT count(*) FROM tickets WHERE title = :t", t=title))


async def created_events(world: World, ticket_id: str) -> int:
    return int(
        await scalar(
            world,
            "SELECT count(*) FROM outbox WHERE event_type = 'ticket.created'"
            " AND body::jsonb -> 'payload' -> 'ticket' ->> 'ticket_id' = :id",
            id=ticket_id,
        )
    )


def same_answer(first: httpx.Response, again: httpx.Response) -> None:
    assert again.status_code == first.status_code
    assert again.content == first.content
    for header in ("location", "etag", "content-type"):
        assert again.headers.get(header) == first.headers.get(header), header
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


async def test_a_repeated_create_replays_the_first_answer_and_creates_one_ticket(world: World):
    requester = await world.person("requester", unit_id=await world.unit())
    title = f"Sekali saja {uuid.uuid4().hex[:8]}"
    body = await ticket_body(world, title)
    key = str(uuid.uuid4())
    first = await world.client.post("/tickets", json=body, headers=keyed(requester, key))
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/tickets/{first.json()['id']}"
    # The same JSON with its keys in another order is the same request.
    reordered = dict(reversed(list(body.items())))
    again = await world.client.post("/tickets", json=reordered, headers=keyed(requester, key))
    same_answer(first, again)
    assert await tickets_titled(world, title) == 1
    assert await created_events(world, first.json()["id"]) == 1


async def test_the_same_key_with_another_request_is_refused_and_does_nothing(world: World):
    requester = await world.person("requester", unit_id=await world.unit())
    title = f"Kunci dipakai ulang {uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    first = await world.client.post(
        "/tickets", json=await ticket_body(world, title), headers=keyed(requester, key)
    )
    assert first.status_code == 201, first.text
    other_title = f"{title} (lain)"
    other = await world.client.post(
        "/tickets", json=await ticket_body(world, other_title), headers=keyed(requester, key)
    )
    assert other.status_code == 422, other.text
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["fields"][0]["field"] == "Idempotency-Key"
    assert await tickets_titled(world, other_title) == 0
    # Another route with the key is another request too.
    comment = await world.client.post(
        f"/tickets/{first.json()['id']}/comments",
        json={"body": "Halo"},
        headers=keyed(requester, key),
    )
    assert comment.json()["error"]["code"] == "idempotency_key_reused"


async def test_concurrent_requests_with_one_key_create_one_ticket(world: World):
    requester = await world.person("requester", unit_id=await world.unit())
    title = f"Klik ganda {uuid.uuid4().hex[:8]}"
    body = await ticket_body(world, title)
    key = str(uuid.uuid4())
    responses = await asyncio.gather(
        *(world.client.post("/tickets", json=body, headers=keyed(requester, key)) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("idempotent-replayed" in r.headers for r in responses) == 7
    assert await tickets_titled(world, title) == 1
    assert await created_events(world, responses[0].json()["id"]) == 1


async def test_two_replicas_with_one_key_create_one_ticket(world: World):
    replica = create_app(world.settings)
    requester = await world.person("requester", unit_id=await world.unit())
    keys = [str(uuid.uuid4()) for _ in range(5)]
    titles = [f"Dua replika {uuid.uuid4().hex[:8]}" for _ in keys]
    bodies = [await ticket_body(world, title) for title in titles]
    async with app_client(replica) as other:
        responses = await asyncio.gather(
            *(
                client.post("/tickets", json=body, headers=keyed(requester, key))
                for key, body in zip(keys, bodies, strict=True)
                for client in (world.client, other, world.client, other)
            )
        )
        await quiesce(replica)
    assert {r.status_code for r in responses} == {201}
    for index, title in enumerate(titles):
        answers = responses[index * 4 : index * 4 + 4]
        assert len({r.json()["id"] for r in answers}) == 1
        assert len({r.content for r in answers}) == 1
        assert await tickets_titled(world, title) == 1


async def test_keys_are_per_caller(world: World):
    unit = await world.unit()
    first_user = await world.person("requester", unit_id=unit)
    second_user = await world.person("requester", unit_id=unit)
    title = f"Kunci sama, orang lain {uuid.uuid4().hex[:8]}"
    body = await ticket_body(world, title)
    key = str(uuid.uuid4())
    mine = await world.client.post("/tickets", json=body, headers=keyed(first_user, key))
    theirs = await world.client.post("/tickets", json=body, headers=keyed(second_user, key))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers
    assert await tickets_titled(world, title) == 2


async def test_a_key_past_the_window_counts_as_new(world: World):
    requester = await world.person("requester", unit_id=await world.unit())
    title = f"Kunci kedaluwarsa {uuid.uuid4().hex[:8]}"
    body = await ticket_body(world, title)
    key = str(uuid.uuid4())
    first = await world.client.post("/tickets", json=body, headers=keyed(requester, key))
    async with world.app.state.runtime.sessionmaker() as session, session.begin():
        hours = world.settings.idempotency_hours
        await session.execute(
            sa.text(
                "UPDATE idempotency_keys SET created_at = now() - make_interval(hours => :h)"
                " WHERE key = :key"
            ),
            {"h": int(hours) + 1, "key": key},
        )
    again = await world.client.post("/tickets", json=body, headers=keyed(requester, key))
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert await tickets_titled(world, title) == 2
    # Retaken, the key replays the new answer; the sweep deletes only expired keys.
    third = await world.client.post("/tickets", json=body, headers=keyed(requester, key))
    assert third.json()["id"] == again.json()["id"]


async def test_an_error_leaves_the_key_free(world: World):
    requester = await world.person("requester", unit_id=await world.unit())
    title = f"Setelah galat {uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    wrong = {**await ticket_body(world, title), "category_id": str(uuid.uuid4())}
    refused = await world.client.post("/tickets", json=wrong, headers=keyed(requester, key))
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unknown_category"
    # Corrected and sent again with the same key: done now, once.
    fixed = await world.client.post(
        "/tickets", json=await ticket_body(world, title), headers=keyed(requester, key)
    )
    assert fixed.status_code == 201, fixed.text
    assert "idempotent-replayed" not in fixed.headers
    assert await tickets_titled(world, title) == 1


async def test_a_repeated_action_and_comment_happen_once(world: World):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    ticket = await world.create(requester)
    key = str(uuid.uuid4())
    path = f"/tickets/{ticket['id']}/claim"
    claims = await asyncio.gather(
        *(world.client.post(path, headers=keyed(agent, key)) for _ in range(3))
    )
    # Without the key the late claims would be 409 already_assigned.
    assert {c.status_code for c in claims} == {200}, [c.text for c in claims]
    assert {c.headers["etag"] for c in claims} == {'"2"'}
    comment_key = str(uuid.uuid4())
    comments = [
        await world.client.post(
            f"/tickets/{ticket['id']}/comments",
            json={"body": "Sedang kami periksa."},
            headers=keyed(agent, comment_key),
        )
        for _ in range(2)
    ]
    same_answer(*comments)
    timeline = (
        await world.client.get(f"/tickets/{ticket['id']}/timeline", headers=agent.headers)
    ).json()
    assert [e["kind"] for e in timeline] == ["created", "claim", "comment"]


async def test_session_routes_join_the_key_transaction(world: World):
    """Saved views and master data write through a session (the key's transaction with a
    savepoint): one view, one category, the first answer replayed."""
    agent = await world.person("agent")
    key = str(uuid.uuid4())
    view = {"name": f"Punya saya {key[:6]}", "params": {"status": ["new"]}}
    first, again = [
        await world.client.post("/views", json=view, headers=keyed(agent, key)) for _ in range(2)
    ]
    assert first.status_code == 201, first.text
    same_answer(first, again)
    views = (await world.client.get("/views", headers=agent.headers)).json()
    assert sum(v["name"] == view["name"] for v in views) == 1

    admin = await world.person("admin")
    name = f"Kategori {key[:8]}"
    category = {"name": name, "description": "Sekali"}
    created = [
        await world.client.post("/categories", json=category, headers=keyed(admin, key))
        for _ in range(2)
    ]
    assert created[0].status_code == 201, created[0].text
    same_answer(*created)
    assert await scalar(world, "SELECT count(*) FROM categories WHERE name = :n", n=name) == 1


async def test_a_bad_key_is_refused(world: World):
    requester = await world.person("requester", unit_id=await world.unit())
    body = await ticket_body(world, "Kunci buruk")
    for bad in (b"x" * 201, "kunci\u00e9".encode("latin-1"), b""):
        headers = [(k.encode(), v.encode()) for k, v in requester.headers.items()]
        response = await world.client.post(
            "/tickets", json=body, headers=[*headers, (b"Idempotency-Key", bad)]
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_idempotency_key"
        assert error["fields"][0]["field"] == "Idempotency-Key"
    assert await tickets_titled(world, "Kunci buruk") == 0


async def test_the_header_is_documented_on_every_write(world: World):
    document = (await world.client.get("/openapi.json")).json()
    writes = {
        (method, path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch", "delete")
        # Service-to-service calls, and the operators' replay of dead letters (a broker
        # operation, common to every service with consumers), take no key.
        and not path.startswith(("/internal/", "/admin/dead-letters/"))
    }
    documented = {
        (method, path)
        for method, path in writes
        if any(
            p["name"] == "Idempotency-Key" and p["in"] == "header"
            for p in document["paths"][path][method].get("parameters", [])
        )
    }
    assert ("post", "/tickets") in documented
    assert ("post", "/tickets/{ticket_id}/claim") in documented
    assert writes - documented == set(), writes - documented


async def test_the_events_of_a_keyed_write_go_out_at_its_commit(world: World):
    requester = await world.person("requester", unit_id=await world.unit())
    created = await world.client.post(
        "/tickets",
        json=await ticket_body(world, f"Segera terbit {uuid.uuid4().hex[:8]}"),
        headers=keyed(requester, str(uuid.uuid4())),
    )
    assert created.status_code == 201

    async def published() -> bool:
        return bool(
            await scalar(
                world,
                "SELECT bool_and(published_at IS NOT NULL) FROM outbox"
                " WHERE body::jsonb -> 'payload' -> 'ticket' ->> 'ticket_id' = :id",
                id=created.json()["id"],
            )
        )

    await eventually(published, timeout=5)


async def test_the_sweep_deletes_expired_keys_only(world: World):
    requester = await world.person("requester", unit_id=await world.unit())
    body = await ticket_body(world, f"Disapu {uuid.uuid4().hex[:8]}")
    old, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    for key in (old, fresh):
        response = await world.client.post("/tickets", json=body, headers=keyed(requester, key))
        assert response.status_code == 201
    async with world.app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            sa.text(
                "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
                " WHERE key = :key"
            ),
            {"key": old},
        )
    assert await delete_expired_keys(world.app.state.runtime) >= 1
    remaining = await scalar(
        world,
        "SELECT array_agg(key) FROM idempotency_keys WHERE key IN (:old, :fresh)",
        old=old,
        fresh=fresh,
    )
    assert remaining == [fresh]
