"""The SLA scheduler and auto-close with two replicas on one schema: each fires once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from helpdesk_testing import app_client, eventually
from tickets.main import create_app
from tickets.tickets.models import Ticket
from tickets.tickets.scheduler import run_scheduler_once

from .conftest import events_of, quiesce, tap


@pytest.fixture(scope="module")
async def replica(world) -> AsyncIterator[FastAPI]:
    """A second instance of the service on the same schema (its own pool and relay)."""
    app = create_app(world.settings)
    async with app_client(app):
        yield app
        await quiesce(app)


async def both_replicas(world, replica: FastAPI, now: datetime, rounds: int = 3) -> None:
    """Both replicas run scheduler rounds at the same moment, several times over."""
    for _ in range(rounds):
        await asyncio.gather(
            *(run_scheduler_once(app.state.runtime, now=now) for app in (world.app, replica))
        )


async def stored(world, ticket_ids: list[str]) -> list[Ticket]:
    async with world.app.state.runtime.sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    sa.select(Ticket).where(Ticket.id.in_([uuid.UUID(t) for t in ticket_ids]))
                )
            ).all()
        )


def at(moment: datetime | None) -> datetime:
    """A stored SLA moment that the test expects to be set."""
    assert moment is not None
    return moment


def sla_events(seen, ticket_id: str) -> Counter[tuple[str, Any]]:
    return Counter(
        (e.event_type, e.payload.get("target"))
        for e in events_of(seen, ticket_id)
        if e.event_type.startswith("ticket.sla") or e.event_type == "ticket.escalated"
    )


async def test_warning_breach_and_escalation_fire_once_with_two_replicas(world, replica, amqp_url):
    requester = await world.person("requester", unit_id=await world.unit())
    async with tap(world.settings, amqp_url) as seen:
        tickets = [await world.create(requester) for _ in range(12)]
        ids = [t["id"] for t in tickets]
        rows = await stored(world, ids)
        second = timedelta(seconds=1)
        moments = [
            max(at(r.first_response_warn_at) for r in rows) + second,
            max(at(r.first_response_escalate_at) for r in rows) + second,
            max(at(r.resolution_warn_at) for r in rows) + second,
            max(at(r.resolution_escalate_at) for r in rows) + second,
        ]
        assert moments[0] < min(at(r.first_response_due_at) for r in rows)
        assert moments[2] < min(at(r.resolution_due_at) for r in rows)
        for now in moments:
            await both_replicas(world, replica, now)

        expected = Counter(
            {
                ("ticket.sla_warning", "first_response"): 1,
                ("ticket.sla_breached", "first_response"): 1,
                ("ticket.escalated", "first_response"): 1,
                ("ticket.sla_warning", "resolution"): 1,
                ("ticket.sla_breached", "resolution"): 1,
                ("ticket.escalated", "resolution"): 1,
            }
        )
        await eventually(lambda: all(sla_events(seen, i) == expected for i in ids), timeout=15)
        await asyncio.sleep(0.5)
        for ticket_id in ids:
            assert sla_events(seen, ticket_id) == expected

    escalation = next(e for e in events_of(seen, ids[0]) if e.event_type == "ticket.escalated")
    assert escalation.payload["escalated_to_roles"] == ["leader"]
    # Each event's snapshot is taken after the stamps of its pass: a breach shows the
    # breach, an escalation the level it raised the ticket to.
    for ticket_id in ids:
        by_kind = {
            (e.event_type, e.payload["target"]): e.payload["ticket"]
            for e in events_of(seen, ticket_id)
            if "target" in e.payload
        }
        for target, level in (("first_response", 1), ("resolution", 2)):
            breached = by_kind[("ticket.sla_breached", target)]
            assert breached[f"{target}_breached_at"] is not None
            assert by_kind[("ticket.escalated", target)]["escalation_level"] == level
        assert by_kind[("ticket.sla_warning", "first_response")]["escalation_level"] == 0
        assert (
            by_kind[("ticket.sla_warning", "first_response")]["first_response_breached_at"] is None
        )
    assert escalation.payload["actor"]["user_id"] is None
    warning = next(e for e in events_of(seen, ids[0]) if e.event_type == "ticket.sla_warning")
    assert warning.payload["threshold"] == 0.75

    agent = await world.person("agent")
    for ticket_id in ids:
        timeline = (
            await world.client.get(f"/tickets/{ticket_id}/timeline", headers=agent.headers)
        ).json()
        kinds = Counter(e["kind"] for e in timeline)
        assert kinds["escalated"] == 2 and kinds["sla_breached"] == 2
        assert any("Eskalasi otomatis" in (e["note"] or "") for e in timeline)
        hidden = (
            await world.client.get(f"/tickets/{ticket_id}/timeline", headers=requester.headers)
        ).json()
        assert [e["kind"] for e in hidden] == ["created"]
    for row in await stored(world, ids):
        assert row.escalation_level == 2 and row.sla_next_check_at is None
    current = (await world.client.get(f"/tickets/{ids[0]}", headers=agent.headers)).json()
    assert current["first_response_breached"] and current["resolution_breached"]
    assert current["version"] == 1  # SLA bookkeeping never makes an editor's copy stale


async def test_pending_pauses_the_checks_and_resume_brings_them_back(world, replica, amqp_url):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    async with tap(world.settings, amqp_url) as seen:
        ticket = await world.create(requester)
        await world.act(agent, ticket, "claim")
        paused = (await world.act(agent, ticket, "pending", reason="Menunggu")).json()
        assert paused["sla_paused"] is True
        (row,) = await stored(world, [ticket["id"]])
        assert row.sla_next_check_at is None and row.sla_paused_since is not None
        far = at(row.resolution_escalate_at) + timedelta(days=30)
        await both_replicas(world, replica, far, rounds=1)
        overdue = await world.client.get(
            "/tickets",
            params={"overdue": "true", "unit_id": str(requester.unit_id)},
            headers=agent.headers,
        )
        assert overdue.json()["items"] == []

        resumed = (await world.act(requester, ticket, "resume")).json()
        assert resumed["status"] == "in_progress" and resumed["sla_paused"] is False
        assert resumed["resolution_due_at"] >= paused["resolution_due_at"]
        (row,) = await stored(world, [ticket["id"]])
        assert row.sla_next_check_at == row.resolution_warn_at
        await both_replicas(world, replica, far, rounds=1)
        await eventually(
            lambda: ("ticket.sla_breached", "resolution") in sla_events(seen, ticket["id"])
        )
        # First response was given (claim): only the resolution target fired.
        assert {target for _, target in sla_events(seen, ticket["id"])} == {"resolution"}


async def test_resolved_tickets_close_themselves_once(world, replica, amqp_url):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    async with tap(world.settings, amqp_url) as seen:
        tickets = [await world.create(requester) for _ in range(6)]
        for ticket in tickets:
            await world.act(agent, ticket, "claim")
            await world.act(agent, ticket, "resolve", result_summary="Selesai")
        ids = [t["id"] for t in tickets]
        soon = datetime.now(UTC) + timedelta(days=world.settings.auto_close_days - 1)
        await both_replicas(world, replica, soon, rounds=1)
        assert {r.status for r in await stored(world, ids)} == {"resolved"}

        later = datetime.now(UTC) + timedelta(days=world.settings.auto_close_days, minutes=1)
        await both_replicas(world, replica, later)
        assert {r.status for r in await stored(world, ids)} == {"closed"}

        def closing(ticket_id: str) -> list[Any]:
            return [
                e
                for e in events_of(seen, ticket_id)
                if e.event_type == "ticket.closed"
                or (e.event_type == "ticket.status_changed" and e.payload["to_status"] == "closed")
            ]

        await eventually(lambda: all(len(closing(i)) == 2 for i in ids), timeout=15)
        await asyncio.sleep(0.5)
        for ticket_id in ids:
            closed, changed = sorted(closing(ticket_id), key=lambda e: e.event_type)
            assert closed.payload["automatic"] is True
            assert closed.payload["actor"]["role"] == "system"
            assert changed.payload["from_status"] == "resolved"
    timeline = (
        await world.client.get(f"/tickets/{ids[0]}/timeline", headers=requester.headers)
    ).json()
    assert timeline[-1]["kind"] == "auto_close" and timeline[-1]["actor_name"] == "Sistem"


async def test_the_background_worker_runs_the_scheduler(world, make_settings, amqp_url):
    settings = world.settings.model_copy(
        update={"run_scheduler": True, "scheduler_interval_seconds": 0.1}
    )
    requester = await world.person("requester", unit_id=await world.unit())
    async with tap(world.settings, amqp_url) as seen:
        ticket = await world.create(requester)
        past = datetime.now(UTC) - timedelta(minutes=1)
        async with world.app.state.runtime.sessionmaker() as session, session.begin():
            await session.execute(
                sa.update(Ticket)
                .where(Ticket.id == uuid.UUID(ticket["id"]))
                .values(first_response_warn_at=past, sla_next_check_at=past)
            )
        app = create_app(settings)
        async with app_client(app):
            await eventually(
                lambda: ("ticket.sla_warning", "first_response") in sla_events(seen, ticket["id"]),
                timeout=15,
            )
            await quiesce(app)
