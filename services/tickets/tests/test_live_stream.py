"""GET /stream: ticket changes as server-sent events, from the events on the bus, scoped by
the API's rules, resynced after the broker connection was lost; served over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import REGISTRY

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import UserUpdated
from helpdesk_common.directory import upsert_user
from helpdesk_testing import TcpProxy, eventually, serve_http
from tickets.live.feed import LiveHub, Recheck, TicketChange, change_from_envelope
from tickets.main import create_app
from tickets.settings import TicketsSettings

from .conftest import Person, World, module_schema, quiesce

WAIT = 5.0  # seconds a change may take to arrive (the browser's target is 2 s)


class Stream:
    """One open stream, its events collected as (name, data) in the background."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    async def next(self, name: str | None = None, *, timeout: float = WAIT) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                got, data = await self.events.get()
                if name is None or got == name:
                    return {"event": got, **data}

    async def ticket(self, ticket_id: str, event: str) -> dict[str, Any]:
        """The next ``ticket`` event about ``ticket_id`` of type ``event``."""
        async with asyncio.timeout(WAIT):
            while True:
                data = await self.next("ticket")
                if data["id"] == ticket_id and data["event"] == event:
                    return data

    async def silent_about(self, ticket_id: str, *, within: float = 1.5) -> bool:
        """True when no event about ``ticket_id`` arrives within ``within`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while True:
                    data = await self.next("ticket", timeout=within)
                    if data["id"] == ticket_id:
                        return False
        return True


@contextlib.asynccontextmanager
async def open_stream(client: httpx.AsyncClient, who: Person) -> AsyncIterator[Stream]:
    stream = Stream()
    opened = asyncio.Event()

    async def read() -> None:
        async with client.stream("GET", "/stream", headers=who.headers, timeout=None) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            opened.set()
            name, data = "message", ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    data = line.split(":", 1)[1].strip()
                elif line == "" and data:
                    await stream.events.put((name, json.loads(data)))
                    name, data = "message", ""

    task = asyncio.create_task(read())
    try:
        await asyncio.wait_for(opened.wait(), WAIT)
        assert (await stream.next())["event"] == "ready"
        yield stream
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture(scope="module")
async def broker_link(amqp_url: str) -> AsyncIterator[TcpProxy]:
    """The app reaches RabbitMQ through this proxy, so that a test can cut the link."""
    target = urlsplit(amqp_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest.fixture(scope="module")
async def live(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
    amqp_url: str,
    broker_link: TcpProxy,
) -> AsyncIterator[World]:
    proxied = amqp_url.replace(
        f"{urlsplit(amqp_url).hostname}:{urlsplit(amqp_url).port}",
        f"127.0.0.1:{broker_link.port}",
    )
    settings = make_settings(
        TicketsSettings,
        schema=module_schema(request),
        run_scheduler=False,
        amqp_url=proxied,
        broker_reconnect_interval=0.5,
        stream_heartbeat_seconds=1,
    )
    app = create_app(settings)
    async with serve_http(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        await app.state.runtime.bus.wait_connected()
        yield World(app, client, make_token)
        await quiesce(app)


async def test_an_agent_hears_of_a_new_ticket_and_its_changes(live: World) -> None:
    unit = await live.unit()
    requester = await live.person("requester", unit_id=unit)
    agent = await live.person("agent")
    async with open_stream(live.client, agent) as stream:
        ticket = await live.create(requester)
        created = await stream.ticket(ticket["id"], "ticket.created")
        assert (created["number"], created["version"]) == (ticket["number"], ticket["version"])

        claimed = await live.act(agent, ticket, "claim")
        assert claimed.status_code == 200, claimed.text
        heard = await stream.ticket(ticket["id"], "ticket.assigned")
        assert heard["version"] == claimed.json()["version"]


async def test_a_requester_hears_only_their_units_public_changes(live: World) -> None:
    unit, other_unit = await live.unit(), await live.unit()
    requester = await live.person("requester", unit_id=unit)
    neighbour = await live.person("requester", unit_id=other_unit)
    agent = await live.person("agent")
    async with (
        open_stream(live.client, requester) as own,
        open_stream(live.client, neighbour) as other,
    ):
        ticket = await live.create(requester)
        await own.ticket(ticket["id"], "ticket.created")
        assert await other.silent_about(ticket["id"])

        note = await live.client.post(
            f"/tickets/{ticket['id']}/comments",
            json={"body": "Cek kabel jaringan dulu", "internal": True},
            headers=agent.headers,
        )
        assert note.status_code == 201, note.text
        reply = await live.client.post(
            f"/tickets/{ticket['id']}/comments",
            json={"body": "Kami sedang memeriksa", "internal": False},
            headers=agent.headers,
        )
        assert reply.status_code == 201, reply.text
        # The public reply arrives; the internal note before it never did.
        first = await own.next("ticket")
        assert (first["id"], first["event"]) == (ticket["id"], "ticket.commented")
        assert await own.silent_about(ticket["id"], within=1.0)


async def test_streams_resync_after_the_broker_link_was_lost(
    live: World, broker_link: TcpProxy
) -> None:
    unit = await live.unit()
    requester = await live.person("requester", unit_id=unit)
    agent = await live.person("agent")
    async with open_stream(live.client, agent) as stream:
        await broker_link.cut()
        await asyncio.sleep(1)
        await broker_link.restore()
        assert (await stream.next("resync", timeout=20))["event"] == "resync"
        # And the queue is back: new changes arrive again.
        async with asyncio.timeout(30):
            while True:
                created = await live.client.post(
                    "/tickets",
                    json={
                        "title": "Jaringan putus setelah pemadaman",
                        "description": "Tidak ada koneksi internet di lantai dua.",
                        "category_id": await live.category_id(),
                    },
                    headers=requester.headers,
                )
                if created.status_code == 201:
                    break
                await asyncio.sleep(0.5)
        await stream.ticket(created.json()["id"], "ticket.created")


async def test_no_stream_opens_while_the_broker_is_unreachable(
    live: World, broker_link: TcpProxy
) -> None:
    """A stream opened then would never hear a change: 503 broker_unavailable, counted, and
    readiness says why; streams open again by themselves once the broker is back."""
    agent = await live.person("agent")
    bus = live.app.state.runtime.bus
    counted = REGISTRY.get_sample_value("helpdesk_broker_unavailable_total") or 0.0
    await broker_link.cut()
    try:
        await eventually(lambda: not bus.is_connected, timeout=10)
        refused = await live.client.get("/stream", headers=agent.headers)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "broker_unavailable"
        assert int(refused.headers["retry-after"]) > 0
        assert REGISTRY.get_sample_value("helpdesk_broker_unavailable_total") == counted + 1
        ready = await live.client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "ok", "broker": "unavailable"}
    finally:
        await broker_link.restore()
    await eventually(lambda: bus.is_connected, timeout=20)
    async with open_stream(live.client, agent):
        pass  # open_stream checks the 200 and the "ready" event


async def test_an_anonymous_caller_gets_401(live: World) -> None:
    response = await live.client.get("/stream")
    assert response.status_code == 401


def test_a_slow_stream_is_told_to_resync_instead_of_growing() -> None:
    hub = LiveHub(backlog=3)
    subscriber = hub.subscribe(Principal(user_id=uuid.uuid4(), role="agent"))
    change = TicketChange(uuid.uuid4(), "TKT-1", 1, "ticket.created", uuid.uuid4(), False)
    for _ in range(4):
        hub.publish(change)
    # The fourth change found the queue full: what was queued went, a resync took its place.
    assert subscriber.queue.qsize() == 1
    assert subscriber.queue.get_nowait() is None  # RESYNC
    hub.publish(change)
    assert subscriber.queue.get_nowait() == change


def test_messages_that_are_not_ticket_changes_are_ignored() -> None:
    assert change_from_envelope(b"not json") is None
    assert change_from_envelope(b'{"event_type": "ticket.created", "payload": {}}') is None
    envelope = {
        "event_type": "attachment.added",
        "payload": {"ticket": {"ticket_id": str(uuid.uuid4()), "unit_id": None}},
    }
    change = change_from_envelope(json.dumps(envelope).encode())
    assert change is not None and change.version is None and change.unit_id is None


async def test_a_stream_ends_once_its_users_role_changes(live: World) -> None:
    """The token no longer counts (helpdesk_common.standing): the stream ends, and the
    browser reconnects with a refreshed token carrying the new rights."""
    agent = await live.person("agent")
    bystander = await live.person("agent")
    async with (
        live.client.stream("GET", "/stream", headers=agent.headers, timeout=None) as response,
        open_stream(live.client, bystander) as other,
    ):
        assert response.status_code == 200
        lines = response.aiter_lines()
        assert await anext(lines) == "retry: 2000"
        async with live.app.state.runtime.sessionmaker() as session, session.begin():
            await upsert_user(
                session,
                snapshot=UserUpdated(
                    user_id=agent.user_id,
                    username=f"agent-{agent.user_id.hex[:8]}",
                    full_name=agent.name,
                    email=None,
                    role="leader",
                    unit_id=None,
                    is_active=True,
                    revision=2,
                    updated_at=datetime.now(UTC),
                ),
            )

        async def ended() -> None:
            async for _ in lines:
                pass

        await asyncio.wait_for(ended(), WAIT)
        # Another user's stream goes on.
        ticket = await live.create(await live.person("requester", unit_id=await live.unit()))
        await other.ticket(ticket["id"], "ticket.created")


def test_a_standing_change_wakes_only_that_users_streams() -> None:
    hub = LiveHub()
    changed, other = uuid.uuid4(), uuid.uuid4()
    mine = hub.subscribe(Principal(user_id=changed, role="agent"))
    theirs = hub.subscribe(Principal(user_id=other, role="agent"))
    hub.standing_changed({changed})
    assert isinstance(mine.queue.get_nowait(), Recheck)
    assert theirs.queue.empty()
    hub.standing_changed(None)  # anyone's may have changed (a full re-read)
    assert isinstance(theirs.queue.get_nowait(), Recheck)
