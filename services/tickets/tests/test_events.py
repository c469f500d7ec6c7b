"""Each action publishes its events exactly once, with full snapshots; identity events in."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from helpdesk_common.contracts import CATALOGUE, EventEnvelope
from helpdesk_common.contracts.identity import (
    UnitCreated,
    UnitUpdated,
    UserCreated,
    UserDeactivated,
)
from helpdesk_common.directory import DirectoryUnit, DirectoryUser
from helpdesk_testing import eventually

from .conftest import events_of, tap


async def test_each_action_emits_its_events_once(world, amqp_url):
    unit = await world.unit("Dinas Kesehatan")
    requester = await world.person("requester", unit_id=unit, name="Rina")
    dispatcher = await world.person("agent", name="Andi")
    worker = await world.person("agent", name="Bayu")
    other = await world.person("agent", name="Citra")
    steps: list[tuple[str, list[str]]] = []

    async with tap(world.settings, amqp_url) as seen:
        response = await world.client.post(
            "/tickets",
            json={
                "title": "Email dinas tidak bisa dibuka",
                "description": "Muncul pesan password salah",
                "category_id": await world.category_id(),
            },
            headers={**requester.headers, "X-Request-ID": "req-create-1"},
        )
        ticket = response.json()
        steps.append(("create", ["ticket.created"]))

        async def step(who, action, expect, **body):
            response = await world.act(who, ticket, action, **body)
            assert response.status_code in (200, 201), response.text
            steps.append((action, expect))
            return response.json()

        await step(requester, "comments", ["ticket.commented"], body="Mohon dibantu")
        await step(dispatcher, "comments", ["ticket.commented"], body="Cek AD", internal=True)
        await step(dispatcher, "assign", ["ticket.assigned"], assignee_id=str(worker.user_id))
        await step(worker, "accept", ["ticket.status_changed"])
        current = (
            await world.client.get(f"/tickets/{ticket['id']}", headers=worker.headers)
        ).json()
        for title in ("Email dinas tidak bisa dibuka sejak pagi",) * 2:  # the second: no change
            edited = await world.client.patch(
                f"/tickets/{ticket['id']}",
                json={"title": title, "priority": "high", "version": current["version"]},
                headers=worker.headers,
            )
            assert edited.status_code == 200, edited.text
            current = edited.json()
        steps.append(("edit", ["ticket.updated"]))
        await step(worker, "pending", ["ticket.status_changed"], reason="Nomor HP?")
        await step(requester, "resume", ["ticket.status_changed"])
        current = await world.client.get(f"/tickets/{ticket['id']}", headers=worker.headers)
        await step(
            dispatcher,
            "assign",
            ["ticket.assigned"],
            assignee_id=str(other.user_id),
            version=current.json()["version"],
        )
        await step(
            other,
            "resolve",
            ["ticket.status_changed", "ticket.resolved"],
            result_summary="Password direset",
        )
        await step(
            requester, "reopen", ["ticket.status_changed", "ticket.reopened"], reason="Masih gagal"
        )
        await step(
            other,
            "resolve",
            ["ticket.status_changed", "ticket.resolved"],
            result_summary="Akun dibuka kuncinya",
        )
        await step(requester, "confirm", ["ticket.status_changed", "ticket.closed"])

        second = await world.create(requester)
        claim = await world.act(worker, second, "claim")
        assert claim.status_code == 200
        reject_ticket = await world.create(requester)
        reject = await world.act(worker, reject_ticket, "reject", reason="Duplikat")
        assert reject.status_code == 200

        expected = Counter(t for _, types in steps for t in types)
        await eventually(
            lambda: Counter(e.event_type for e in events_of(seen, ticket["id"])) == expected,
            timeout=15,
        )
        await eventually(lambda: len(events_of(seen, second["id"])) == 3)
        await eventually(lambda: len(events_of(seen, reject_ticket["id"])) == 2)
        await asyncio.sleep(0.5)

    events = events_of(seen, ticket["id"])
    assert Counter(e.event_type for e in events) == expected
    assert len({e.event_id for e in seen}) == len(seen)
    for envelope in events:
        assert envelope.producer == "tickets"
        CATALOGUE[envelope.event_type].model_validate(envelope.payload)
    updated = next(e for e in events if e.event_type == "ticket.updated")
    assert updated.payload["fields"] == ["priority", "title"]
    assert updated.payload["ticket"]["title"] == "Email dinas tidak bisa dibuka sejak pagi"
    assert updated.payload["ticket"]["priority"] == "high"
    created = next(e for e in events if e.event_type == "ticket.created")
    assert created.correlation_id == "req-create-1"
    snap = created.payload["ticket"]
    assert snap["unit_name"] == "Dinas Kesehatan" and snap["category_name"] == "Aplikasi"
    assert snap["number"] == ticket["number"] and snap["ticket_id"] == ticket["id"]
    assert snap["requester_name"] == "Rina" and snap["status"] == "new" and snap["version"] == 1
    # What a read model (reports) needs besides: present on every event, set or not.
    assert snap["channel"] == "web" and snap["updated_at"] == snap["created_at"]
    assert (snap["escalation_level"], snap["reopen_count"]) == (0, 0)
    for name in (
        "first_response_seconds",
        "resolution_seconds",
        "first_response_breached_at",
        "resolution_breached_at",
        "result_summary",
    ):
        assert snap[name] is None, name
    for envelope in events:
        assert {"channel", "updated_at", "escalation_level", "reopen_count"} <= set(
            envelope.payload["ticket"]
        )
    assert created.payload["actor"] == {
        "user_id": str(requester.user_id),
        "name": "Rina",
        "role": "requester",
    }
    comments = [e for e in events if e.event_type == "ticket.commented"]
    assert [c.payload["internal"] for c in comments] == [False, True]
    changes = [
        (e.payload["from_status"], e.payload["to_status"], e.payload["ticket"]["status"])
        for e in sorted(events, key=lambda e: e.payload["ticket"]["version"])
        if e.event_type == "ticket.status_changed"
    ]
    assert changes == [
        ("new", "in_progress", "in_progress"),
        ("in_progress", "pending", "pending"),
        ("pending", "in_progress", "in_progress"),
        ("in_progress", "resolved", "resolved"),
        ("resolved", "in_progress", "in_progress"),
        ("in_progress", "resolved", "resolved"),
        ("resolved", "closed", "closed"),
    ]
    pending = next(
        e
        for e in events
        if e.event_type == "ticket.status_changed" and e.payload["to_status"] == "pending"
    )
    assert pending.payload["reason"] == "Nomor HP?"
    reassigned = [e for e in events if e.event_type == "ticket.assigned"][-1]
    assert reassigned.payload["previous_assignee_id"] == str(worker.user_id)
    assert reassigned.payload["ticket"]["assignee_name"] == "Citra"
    closed = next(e for e in events if e.event_type == "ticket.closed")
    assert closed.payload["automatic"] is False and closed.payload["ticket"]["closed_at"]
    resolved = [e for e in events if e.event_type == "ticket.resolved"]
    assert [r.payload["result_summary"] for r in resolved] == [
        "Password direset",
        "Akun dibuka kuncinya",
    ]
    # The snapshot carries the outcome too: the summary, the working time and the reopen.
    assert [r.payload["ticket"]["result_summary"] for r in resolved] == [
        "Password direset",
        "Akun dibuka kuncinya",
    ]
    assert all(isinstance(r.payload["ticket"]["resolution_seconds"], int) for r in resolved)
    assert all(isinstance(r.payload["ticket"]["first_response_seconds"], int) for r in resolved)
    assert [r.payload["ticket"]["reopen_count"] for r in resolved] == [0, 1]
    reopened_snap = next(e for e in events if e.event_type == "ticket.reopened").payload["ticket"]
    assert (reopened_snap["reopen_count"], reopened_snap["resolution_seconds"]) == (1, None)
    assert closed.payload["ticket"]["updated_at"] == closed.payload["ticket"]["closed_at"]
    assert Counter(e.event_type for e in events_of(seen, second["id"])) == {
        "ticket.created": 1,
        "ticket.assigned": 1,
        "ticket.status_changed": 1,
    }
    rejected = [
        e for e in events_of(seen, reject_ticket["id"]) if e.event_type == "ticket.status_changed"
    ]
    assert rejected[0].payload["to_status"] == "rejected"
    assert rejected[0].payload["reason"] == "Duplikat"


async def test_staff_close_and_reopen_each_emit_their_event_once(world, amqp_url):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    admin = await world.person("admin", name="Admin Kominfo")
    async with tap(world.settings, amqp_url) as seen:
        ticket = await world.create(requester)
        for who, action, body in [
            (agent, "claim", {}),
            (agent, "resolve", {"result_summary": "Sudah diperbaiki"}),
            (requester, "reopen", {"reason": "Masih error"}),
            (agent, "resolve", {"result_summary": "Diganti baru"}),
            # Confirmed by phone: staff close it.
            (admin, "close", {"reason": "Dikonfirmasi lewat telepon"}),
        ]:
            response = await world.act(who, ticket, action, **body)
            assert response.status_code == 200, (action, response.text)
        assert response.json()["status"] == "closed"

        def of_type(event_type: str) -> list[EventEnvelope]:
            return [e for e in events_of(seen, ticket["id"]) if e.event_type == event_type]

        expected = Counter(
            {
                "ticket.created": 1,
                "ticket.assigned": 1,
                "ticket.status_changed": 5,
                "ticket.resolved": 2,
                "ticket.reopened": 1,
                "ticket.closed": 1,
            }
        )
        await eventually(
            lambda: Counter(e.event_type for e in events_of(seen, ticket["id"])) == expected,
            timeout=15,
        )
        await asyncio.sleep(0.5)  # time for a duplicate to show up, were there one

    reopened, closed = of_type("ticket.reopened"), of_type("ticket.closed")
    assert len(reopened) == 1 and len(closed) == 1
    assert reopened[0].payload["reason"] == "Masih error"
    assert reopened[0].payload["actor"]["role"] == "requester"
    assert reopened[0].payload["ticket"]["status"] == "in_progress"
    assert closed[0].payload["automatic"] is False
    assert closed[0].payload["actor"] == {
        "user_id": str(admin.user_id),
        "name": "Admin Kominfo",
        "role": "admin",
    }
    assert closed[0].payload["ticket"]["status"] == "closed"
    assert closed[0].payload["ticket"]["closed_at"]
    assert Counter(e.event_type for e in events_of(seen, ticket["id"])) == expected
    for envelope in (*reopened, *closed):
        CATALOGUE[envelope.event_type].model_validate(envelope.payload)


async def test_refused_actions_publish_nothing(world, amqp_url):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    async with tap(world.settings, amqp_url) as seen:
        ticket = await world.create(requester)
        assert (await world.act(requester, ticket, "claim")).status_code == 403
        assert (await world.act(agent, ticket, "resolve", result_summary="x")).status_code == 409
        assert (await world.act(agent, ticket, "confirm")).status_code == 403
        await eventually(lambda: len(events_of(seen, ticket["id"])) == 1)
        await asyncio.sleep(0.5)
        assert [e.event_type for e in events_of(seen, ticket["id"])] == ["ticket.created"]


async def publish(world, payload) -> None:
    envelope = EventEnvelope.wrap(payload, producer="identity")
    await world.app.state.runtime.bus.publish(
        str(envelope.event_id), envelope.event_type, envelope.model_dump_json()
    )


async def test_identity_events_keep_the_local_directory(world):
    unit_id, user_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    unit: dict[str, Any] = {
        "unit_id": unit_id,
        "code": "DISDIK",
        "is_active": True,
        "updated_at": now,
    }
    await publish(world, UnitCreated(**unit, name="Dinas Pendidikan", revision=1))

    async def unit_name() -> str | None:
        async with world.app.state.runtime.sessionmaker() as session:
            return await session.scalar(
                sa.select(DirectoryUnit.name).where(DirectoryUnit.id == unit_id)
            )

    await eventually(lambda: unit_name())
    await publish(world, UnitUpdated(**unit, name="Dinas Pendidikan Kota", revision=3))
    await eventually(lambda: _equals(unit_name(), "Dinas Pendidikan Kota"))
    # An older snapshot arriving late changes nothing.
    await publish(world, UnitUpdated(**unit, name="Nama lama", revision=2))
    await asyncio.sleep(0.5)
    assert await unit_name() == "Dinas Pendidikan Kota"

    # A requester of the new unit can now create tickets; an agent can be assigned until
    # deactivated.
    requester = await world.person("requester", unit_id=unit_id, known=False)
    ticket = await world.create(requester)
    assert ticket["unit_name"] == "Dinas Pendidikan Kota"
    user: dict[str, Any] = {
        "user_id": user_id,
        "username": "dewi",
        "full_name": "Dewi Lestari",
        "email": "dewi@example.go.id",
        "role": "agent",
        "unit_id": None,
        "updated_at": now,
    }
    await publish(world, UserCreated(**user, is_active=True, revision=1))

    async def user_active() -> bool | None:
        async with world.app.state.runtime.sessionmaker() as session:
            return await session.scalar(
                sa.select(DirectoryUser.is_active).where(DirectoryUser.id == user_id)
            )

    await eventually(lambda: _equals(user_active(), True))
    dispatcher = await world.person("agent")
    response = await world.act(dispatcher, ticket, "assign", assignee_id=str(user_id))
    assert response.status_code == 200 and response.json()["assignee_name"] == "Dewi Lestari"
    await publish(world, UserDeactivated(**user, is_active=False, revision=2))
    await eventually(lambda: _equals(user_active(), False))
    # Dewi's access token, though signed and unexpired, is refused once the service has
    # re-read who is disabled.
    dewi = {"Authorization": f"Bearer {world.make_token('agent', user_id=user_id)}"}

    async def dewi_refused() -> bool:
        return (await world.client.get("/tickets", headers=dewi)).status_code == 401

    await eventually(dewi_refused, timeout=15)
    other = await world.create(requester)
    response = await world.act(dispatcher, other, "assign", assignee_id=str(user_id))
    assert response.status_code == 422

    await publish(world, UnitUpdated(**{**unit, "is_active": False}, name="Tutup", revision=4))
    await eventually(lambda: _equals(unit_name(), "Tutup"))
    response = await world.client.post(
        "/tickets",
        json={
            "title": "Unit nonaktif",
            "description": "x",
            "category_id": await world.category_id(),
        },
        headers=requester.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "unit_id"


async def _equals(value, expected) -> bool:
    return await value == expected
