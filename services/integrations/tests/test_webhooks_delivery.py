"""Outbound webhooks end to end: ticket events published on the real RabbitMQ, the
consumer's deliveries, the sender POSTing to a real HTTP receiver on loopback (aiohttp).

Signed and verifiable bodies; retries with back-off after 500s and time-outs; a ticket's
events in order while one of them fails; redelivery; giving up after the window; disabling a
webhook that keeps failing (with its event); the SSRF guard at delivery; two replicas."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.tickets import (
    Actor,
    TicketClosed,
    TicketCommented,
    TicketCreated,
    TicketEvent,
    TicketSnapshot,
)
from helpdesk_testing import app_client, eventually
from helpdesk_testing.events import event_tap
from integrations.main import create_app
from integrations.webhooks.models import WebhookDelivery
from integrations.webhooks.signing import verify

from .conftest import World, running_integrations

SECRET = "rahasia-webhook-uji-0123456789"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 200

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def ticket_id(self) -> str | None:
        ticket = self.json["data"].get("ticket") or {}
        return ticket.get("ticket_id")


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every request. ``answers`` (a list of
    statuses, or seconds to stall as a float) is consumed first; ``failing`` tickets get
    500 while listed; anything else 200."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    answers: list[int | float] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def succeeded(self) -> list[Received]:
        return [r for r in self.requests if r.status == 200]

    async def handle(self, request: web.Request) -> web.Response:
        received = Received(
            path=request.path,
            headers=dict(request.headers),
            body=await request.read(),
            at=time.monotonic(),
        )
        self.requests.append(received)
        status = 200
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, float):
                await asyncio.sleep(answer)
            else:
                status = answer
        elif received.ticket_id in self.failing:
            status = 500
        received.status = status
        return web.Response(status=status, text=f"answered {status}")


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield server
    finally:
        await runner.cleanup()


FAST = {
    "webhook_allowed_networks": "127.0.0.0/8",
    "webhook_retry_initial_seconds": 0.3,
    "webhook_retry_max_seconds": 1.2,
    "webhook_retry_window_seconds": 60.0,
    "webhook_disable_after_seconds": 600.0,
    "webhook_timeout_seconds": 1.0,
    "webhook_poll_seconds": 0.1,
    "webhook_concurrency": 4,
    # The database is shared by many tests at once: each app here holds few connections.
    "db_pool_size": 3,
    "db_max_overflow": 3,
}


@asynccontextmanager
async def delivering(
    make_settings: Callable[..., Any], make_token: Callable[..., str], **overrides: Any
) -> AsyncIterator[tuple[World, Receiver, dict[str, str]]]:
    async with (
        running_integrations(make_settings, make_token, **{**FAST, **overrides}) as world,
        receiver() as server,
    ):
        admin = (await world.person("admin")).headers
        yield world, server, admin


async def register(
    world: World,
    admin: dict[str, str],
    url: str,
    *,
    event_types: tuple[str, ...] = ("ticket.created", "ticket.commented"),
) -> str:
    response = await world.client.post(
        "/webhooks",
        json={"name": "Penerima", "url": url, "secret": SECRET, "event_types": event_types},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    webhook_id: str = response.json()["id"]
    return webhook_id


def ticket_event(
    ticket_id: uuid.UUID, kind: type[TicketEvent] = TicketCreated, **extra: Any
) -> TicketEvent:
    snapshot = TicketSnapshot(
        ticket_id=ticket_id,
        number=f"TKT-2026-{ticket_id.int % 1_000_000:06d}",
        title="Printer rusak — ruang 2 ✓",
        status="new",
        priority="medium",
        unit_id=uuid.uuid4(),
        created_at=datetime.now(UTC),
        version=1,
    )
    actor = Actor(user_id=uuid.uuid4(), name="Budi", role="requester")
    return kind(ticket=snapshot, actor=actor, **extra)


def comment(ticket_id: uuid.UUID, text: str) -> TicketEvent:
    return ticket_event(
        ticket_id, TicketCommented, comment_id=uuid.uuid4(), body=text, internal=False
    )


async def publish(world: World, payload: TicketEvent) -> EventEnvelope:
    envelope = EventEnvelope.wrap(payload, producer="tickets")
    await world.runtime.bus.publish(
        str(envelope.event_id), envelope.event_type, envelope.model_dump_json()
    )
    return envelope


async def deliveries(world: World, webhook_id: str, admin: dict[str, str]) -> list[Any]:
    response = await world.client.get(
        f"/webhooks/{webhook_id}/deliveries", params={"limit": 100}, headers=admin
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_delivery_is_signed_and_verifiable(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    async with delivering(make_settings, make_token) as (world, server, admin):
        webhook_id = await register(world, admin, server.url)
        ticket_id = uuid.uuid4()
        envelope = await publish(world, ticket_event(ticket_id))
        await publish(world, ticket_event(ticket_id, TicketClosed))  # not subscribed
        await eventually(lambda: server.requests, timeout=10)
        request = server.requests[0]
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert headers["content-type"] == "application/json"
        assert headers["host"] == f"127.0.0.1:{server.port}"
        assert headers["x-helpdesk-event"] == "ticket.created"
        timestamp = headers["x-helpdesk-timestamp"]
        assert abs(int(timestamp) - time.time()) < 30
        # The receiver's check, written out: HMAC-SHA256(secret, "<timestamp>.<raw body>").
        expected = hmac.new(
            SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256
        ).hexdigest()
        assert headers["x-helpdesk-signature"] == f"sha256={expected}"
        assert verify(SECRET, timestamp, request.body, headers["x-helpdesk-signature"])
        assert not verify("another-secret-0123", timestamp, request.body, expected)
        assert not verify(SECRET, timestamp, request.body + b" ", headers["x-helpdesk-signature"])
        sent = request.json
        assert request.body.isascii()  # other characters escaped: \u2014 for the dash
        assert sent["event_id"] == str(envelope.event_id)
        assert sent["event_type"] == "ticket.created"
        assert sent["delivery_id"] == headers["x-helpdesk-delivery"]
        assert datetime.fromisoformat(sent["occurred_at"]) == envelope.occurred_at
        assert sent["data"] == envelope.payload
        # The log.
        [logged] = await eventually(lambda: _done(world, webhook_id, admin, count=1), timeout=10)
        assert logged["status"] == "succeeded" and logged["attempts"] == 1
        assert logged["last_status_code"] == 200 and logged["duration_ms"] is not None
        assert logged["ticket_id"] == str(ticket_id) and logged["delivered_at"]
        detail = await world.client.get(
            f"/webhooks/{webhook_id}/deliveries/{logged['id']}", headers=admin
        )
        assert detail.status_code == 200
        assert detail.json()["request_body"].encode() == request.body
        assert detail.json()["response_excerpt"] == "answered 200"
        # The same event again (the broker redelivers): no second delivery.
        await world.runtime.bus.publish(
            str(envelope.event_id), envelope.event_type, envelope.model_dump_json()
        )
        await asyncio.sleep(1.0)
        assert len(server.requests) == 1
        assert len(await deliveries(world, webhook_id, admin)) == 1
        metrics = (await world.client.get("/metrics")).text
        assert 'integrations_webhook_deliveries_total{outcome="succeeded"}' in metrics
        assert "integrations_webhook_attempt_seconds_bucket" in metrics


async def _done(world: World, webhook_id: str, admin: dict[str, str], *, count: int) -> Any:
    items = await deliveries(world, webhook_id, admin)
    finished = [d for d in items if d["status"] in ("succeeded", "failed")]
    return items if len(finished) >= count else None


async def test_retries_with_backoff_after_500_and_timeout(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    async with delivering(make_settings, make_token) as (world, server, admin):
        webhook_id = await register(world, admin, server.url)
        server.answers = [500, 503, 2.5]  # two errors, then longer than the 1 s time-out
        await publish(world, ticket_event(uuid.uuid4()))
        await eventually(lambda: len(server.requests) >= 2, timeout=10)
        retrying = (await deliveries(world, webhook_id, admin))[0]
        assert retrying["status"] == "retrying", retrying
        assert retrying["last_status_code"] in (500, 503)
        assert retrying["next_attempt_at"]
        webhook = (await world.client.get(f"/webhooks/{webhook_id}", headers=admin)).json()
        assert webhook["state"] == "failing" and webhook["failing_since"]
        [done] = await eventually(lambda: _done(world, webhook_id, admin, count=1), timeout=20)
        assert done["status"] == "succeeded" and done["attempts"] == 4
        assert [r.status for r in server.requests] == [500, 503, 200, 200]
        # The stalled third answer came too late: the fourth attempt is the one that counted.
        gaps = [b.at - a.at for a, b in zip(server.requests, server.requests[1:], strict=False)]
        assert gaps[0] >= 0.3 * 0.9  # first back-off: the initial delay
        assert gaps[1] >= 0.6 * 0.9  # doubled
        assert gaps[2] >= 1.0  # the time-out (1 s) plus the capped back-off
        webhook = (await world.client.get(f"/webhooks/{webhook_id}", headers=admin)).json()
        assert webhook["state"] == "active" and webhook["failing_since"] is None
        assert webhook["last_success_at"]
        # Every attempt carried the same delivery and body, each signed afresh.
        assert len({r.body for r in server.requests}) == 1
        for r in server.requests:
            h = {k.lower(): v for k, v in r.headers.items()}
            assert verify(SECRET, h["x-helpdesk-timestamp"], r.body, h["x-helpdesk-signature"])


async def test_a_tickets_events_stay_in_order_while_one_fails(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    async with delivering(make_settings, make_token) as (world, server, admin):
        await register(world, admin, server.url)
        slow, other = uuid.uuid4(), uuid.uuid4()
        server.failing.add(str(slow))
        sent = [await publish(world, ticket_event(slow))]
        for index in range(4):
            sent.append(await publish(world, comment(slow, f"komentar {index}")))
        await publish(world, ticket_event(other))
        await publish(world, comment(other, "lain"))
        # The other ticket goes through while the first one's first event keeps failing.
        await eventually(
            lambda: len([r for r in server.succeeded() if r.ticket_id == str(other)]) == 2,
            timeout=10,
        )
        await eventually(lambda: len(server.requests) >= 5, timeout=10)
        slow_requests = [r for r in server.requests if r.ticket_id == str(slow)]
        assert {r.json["event_id"] for r in slow_requests} == {str(sent[0].event_id)}
        server.failing.clear()
        await eventually(
            lambda: len([r for r in server.succeeded() if r.ticket_id == str(slow)]) == 5,
            timeout=15,
        )
        order = [r.json["event_id"] for r in server.succeeded() if r.ticket_id == str(slow)]
        assert order == [str(e.event_id) for e in sent]


async def test_redeliver(make_settings: Callable[..., Any], make_token: Callable[..., str]) -> None:
    async with delivering(make_settings, make_token) as (world, server, admin):
        webhook_id = await register(world, admin, server.url)
        envelope = await publish(world, ticket_event(uuid.uuid4()))
        [first] = await eventually(lambda: _done(world, webhook_id, admin, count=1), timeout=10)
        path = f"/webhooks/{webhook_id}/deliveries/{first['id']}/redeliver"
        again = await world.client.post(path, headers=admin)
        assert again.status_code == 202, again.text
        second = again.json()
        assert second["id"] != first["id"] and second["event_id"] == str(envelope.event_id)
        assert second["redelivery_of"] == first["id"] and second["status"] == "pending"
        await eventually(lambda: len(server.requests) == 2, timeout=10)
        one, two = server.requests
        assert one.json["event_id"] == two.json["event_id"]
        assert two.json["delivery_id"] == second["id"] != one.json["delivery_id"]
        assert two.json["data"] == one.json["data"]
        # An outstanding delivery is not sent twice at once.
        server.answers = [500] * 50
        await world.client.post(f"/webhooks/{webhook_id}/ping", headers=admin)
        items = await eventually(lambda: _status(world, webhook_id, admin, "retrying"), timeout=10)
        busy = await world.client.post(
            f"/webhooks/{webhook_id}/deliveries/{items[0]['id']}/redeliver", headers=admin
        )
        assert busy.status_code == 409
        assert busy.json()["error"]["code"] == "delivery_outstanding"
        missing = await world.client.post(
            f"/webhooks/{webhook_id}/deliveries/{uuid.uuid4()}/redeliver", headers=admin
        )
        assert missing.status_code == 404


async def _status(world: World, webhook_id: str, admin: dict[str, str], status: str) -> Any:
    response = await world.client.get(
        f"/webhooks/{webhook_id}/deliveries", params={"status": status}, headers=admin
    )
    return response.json()["items"] or None


async def test_ping(make_settings: Callable[..., Any], make_token: Callable[..., str]) -> None:
    async with delivering(make_settings, make_token) as (world, server, admin):
        webhook_id = await register(world, admin, server.url)
        response = await world.client.post(f"/webhooks/{webhook_id}/ping", headers=admin)
        assert response.status_code == 202, response.text
        assert response.json()["event_type"] == "webhook.ping"
        await eventually(lambda: server.requests, timeout=10)
        ping = server.requests[0].json
        assert ping["event_type"] == "webhook.ping"
        assert ping["data"]["webhook_id"] == webhook_id


async def test_gives_up_after_the_window_and_the_ticket_goes_on(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    async with delivering(make_settings, make_token, webhook_retry_window_seconds=1.5) as (
        world,
        server,
        admin,
    ):
        webhook_id = await register(world, admin, server.url)
        ticket_id = uuid.uuid4()
        server.failing.add(str(ticket_id))
        await publish(world, ticket_event(ticket_id))
        await eventually(lambda: _status(world, webhook_id, admin, "failed"), timeout=15)
        [failed] = await _status(world, webhook_id, admin, "failed")
        assert failed["attempts"] >= 2 and failed["next_attempt_at"] is None
        assert failed["last_status_code"] == 500 and failed["last_error"] == "HTTP 500"
        attempts = len(server.requests)
        await asyncio.sleep(1.5)
        assert len(server.requests) == attempts  # given up: no more attempts
        # The ticket's next event is no longer held behind it.
        server.failing.clear()
        await publish(world, comment(ticket_id, "masih rusak"))
        await eventually(lambda: server.succeeded(), timeout=10)
        assert server.succeeded()[0].json["event_type"] == "ticket.commented"


async def test_disabled_after_failing_too_long_with_its_event(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    async with delivering(make_settings, make_token, webhook_disable_after_seconds=1.0) as (
        world,
        server,
        admin,
    ):
        webhook_id = await register(world, admin, server.url)
        ticket_id = uuid.uuid4()
        server.failing.add(str(ticket_id))
        async with event_tap(world.settings) as seen:
            await publish(world, ticket_event(ticket_id))
            disabled = await eventually(
                lambda: [e for e in seen if e.event_type == "webhook.disabled"], timeout=15
            )
        assert disabled[0].payload["webhook_id"] == webhook_id
        assert disabled[0].payload["last_error"] == "HTTP 500"
        assert disabled[0].producer == "integrations"
        webhook = (await world.client.get(f"/webhooks/{webhook_id}", headers=admin)).json()
        assert webhook["state"] == "disabled" and webhook["is_active"] is False
        assert webhook["disabled_at"] and "no delivery succeeded" in webhook["disabled_reason"]
        attempts = len(server.requests)
        await publish(world, ticket_event(uuid.uuid4()))  # a disabled webhook gets nothing new
        await asyncio.sleep(1.5)
        assert len(server.requests) == attempts
        assert len(await deliveries(world, webhook_id, admin)) == 1
        # Re-enabled: the waiting delivery goes on.
        server.failing.clear()
        on = await world.client.patch(
            f"/webhooks/{webhook_id}", json={"is_active": True}, headers=admin
        )
        assert on.json()["state"] == "active"
        await eventually(lambda: server.succeeded(), timeout=10)


async def test_ssrf_guard_at_delivery(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    async with delivering(make_settings, make_token) as (world, server, admin):
        # "localhost" resolves to loopback: allowed when registered, then no longer.
        webhook_id = await register(world, admin, f"http://localhost:{server.port}/hook")
        world.settings.webhook_allowed_networks = []
        await publish(world, ticket_event(uuid.uuid4()))
        [refused] = await eventually(
            lambda: _status(world, webhook_id, admin, "retrying"), timeout=10
        )
        assert refused["last_error"].startswith("address_not_allowed")
        assert refused["last_status_code"] is None
        assert server.requests == []
        world.settings.webhook_allowed_networks = ["127.0.0.0/8", "::1/128"]
        await eventually(lambda: server.succeeded(), timeout=10)
        # Connected to the checked address, named as registered.
        assert server.requests[0].headers["Host"] == f"localhost:{server.port}"


async def test_two_replicas_send_each_delivery_once_in_order(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    async with delivering(make_settings, make_token) as (world, server, admin):
        second = create_app(world.settings)  # the same schema and queues: another replica
        async with app_client(second):
            await eventually(lambda: second.state.runtime.consumers_started, timeout=20)
            await register(world, admin, server.url)
            server.answers = [0.05] * 100  # each answer takes a moment
            tickets = [uuid.uuid4() for _ in range(4)]
            expected: dict[str, list[str]] = {str(t): [] for t in tickets}
            for index in range(10):
                for ticket_id in tickets:
                    event = ticket_event(ticket_id) if index == 0 else comment(ticket_id, "x")
                    envelope = await publish(world, event)
                    expected[str(ticket_id)].append(str(envelope.event_id))
            await eventually(lambda: len(server.requests) >= 40, timeout=30)
            await asyncio.sleep(0.5)
        ids = [r.json["delivery_id"] for r in server.requests]
        assert len(ids) == len(set(ids)) == 40
        for ticket, events in expected.items():
            got = [r.json["event_id"] for r in server.requests if r.ticket_id == ticket]
            assert got == events
        async with world.runtime.sessionmaker() as session:
            statuses = (await session.scalars(sa.select(WebhookDelivery.status))).all()
        assert statuses == ["succeeded"] * 40
