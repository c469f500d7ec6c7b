"""Metrics, health checks, concurrent relays and correlation ids, on the real database and
broker: what an operator relies on when the system runs."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.app import create_service_app
from helpdesk_common.auth import CurrentUser
from helpdesk_common.bus import Bus
from helpdesk_common.consumer import Consumer
from helpdesk_common.context import REQUEST_ID_HEADER, current_correlation_id
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.identity import UnitCreated
from helpdesk_common.db import SessionDep, create_engine, create_sessionmaker
from helpdesk_common.outbox import add_event, messaging_metadata, outbox_table, run_relay
from helpdesk_common.runtime import Runtime
from helpdesk_common.settings import ServiceSettings
from helpdesk_testing import TcpProxy, app_client, eventually, sample_unit_created

PRODUCER = "optest"
handler_log = logging.getLogger("helpdesk.test.operability")


def probe_router() -> APIRouter:
    """A route with a path parameter, and one that writes an event into the outbox."""
    router = APIRouter()

    @router.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @router.get("/me")
    async def me(principal: CurrentUser) -> dict[str, str]:
        return {"user_id": str(principal.user_id)}

    @router.post("/units/{name}")
    async def create_unit(name: str, session: SessionDep) -> dict[str, str]:
        async with session.begin():
            envelope = await add_event(session, sample_unit_created(name), producer=PRODUCER)
        return {"event_id": str(envelope.event_id)}

    return router


async def create_messaging_schema(runtime: Runtime) -> Runtime:
    schema = runtime.settings.schema_name
    async with runtime.engine.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await connection.run_sync(messaging_metadata.create_all)
    return runtime


async def is_consuming(bus: Bus, queue: str) -> bool:
    """The queue exists and someone consumes it (so its bindings are in place)."""
    channel = await bus.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return False
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    return bool(declared.declaration_result.consumer_count)


@contextlib.asynccontextmanager
async def running_service(
    make_settings, *, consumers: Sequence[Consumer] = (), **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A service built by ``create_service_app`` on a schema of its own, its consumers
    consuming, and a client talking to it in-process."""
    values: dict[str, Any] = {"service_name": PRODUCER, "broker_reconnect_interval": 0.2}
    values.update(overrides)
    settings = make_settings(ServiceSettings, schema=f"ops_{uuid.uuid4().hex[:8]}", **values)
    app = create_service_app(
        settings=settings,
        title="operability test",
        routers=[probe_router()],
        consumers=consumers,
        build_runtime=create_messaging_schema,
    )
    async with app_client(app) as client:
        bus: Bus = app.state.runtime.bus
        await asyncio.wait_for(bus.wait_connected(), timeout=10)
        for consumer in consumers:
            queue = settings.queue_name(consumer.name)
            await eventually(functools.partial(is_consuming, bus, queue))
        yield app, client


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


def sample(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for point in family.samples:
            if point.name == name and all(point.labels.get(k) == v for k, v in labels.items()):
                total += point.value
    return total


def route_labels(text: str) -> set[str]:
    return {
        point.labels["route"]
        for family in text_string_to_metric_families(text)
        for point in family.samples
        if "route" in point.labels
    }


# -- 1. metrics --------------------------------------------------------------------------


async def test_http_metrics_are_labelled_with_the_route_template(make_settings):
    async with running_service(make_settings) as (_, client):
        before = await scrape(client)
        for item_id in (731947, 731948, 731949):
            response = await client.get(f"/items/{item_id}")
            assert response.status_code == 200
        missing = await client.get(f"/nowhere/{uuid.uuid4().hex}")
        assert missing.status_code == 404
        after = await scrape(client)

    template = "/items/{item_id}"

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("http_requests_total", method="GET", route=template, status="200") == 3
    assert moved("http_request_duration_seconds_count", method="GET", route=template) == 3
    assert moved("http_request_duration_seconds_sum", method="GET", route=template) > 0
    assert (
        moved("http_request_duration_seconds_bucket", method="GET", route=template, le="+Inf") == 3
    )
    # Never one series per raw path: unmatched paths share one label too.
    assert moved("http_requests_total", method="GET", route="unmatched", status="404") == 1
    routes = route_labels(after)
    assert template in routes
    assert not [route for route in routes if "73194" in route or "/nowhere/" in route]
    # The probes themselves are not counted as traffic.
    assert not routes & {"/metrics", "/health/live", "/health/ready"}


async def test_event_metrics_move_when_events_are_published_consumed_failed_and_parked(
    make_settings,
):
    handled: list[uuid.UUID] = []
    attempts: list[uuid.UUID] = []
    ok = Consumer(name=f"ops-ok-{uuid.uuid4().hex[:6]}")
    failing = Consumer(name=f"ops-fail-{uuid.uuid4().hex[:6]}")

    @ok.on("unit.created")
    async def accept(session: AsyncSession, envelope: EventEnvelope, _: EventPayload) -> None:
        handled.append(envelope.event_id)

    @failing.on("unit.created")
    async def refuse(session: AsyncSession, envelope: EventEnvelope, _: EventPayload) -> None:
        attempts.append(envelope.event_id)
        raise ValueError("downstream refused")

    async with running_service(make_settings, consumers=[ok, failing]) as (app, client):
        settings: ServiceSettings = app.state.runtime.settings
        ok_queue = settings.queue_name(ok.name)
        failing_queue = settings.queue_name(failing.name)
        before = await scrape(client)

        response = await client.post("/units/metrics-probe")
        assert response.status_code == 200
        event_id = uuid.UUID(response.json()["event_id"])

        expected_attempts = 1 + len(settings.retry_delays)
        await eventually(lambda: handled == [event_id])
        await eventually(lambda: len(attempts) == expected_attempts)

        async def parked() -> str | None:
            text = await scrape(client)
            return (
                text if sample(text, "events_dead_lettered_total", consumer=failing_queue) else None
            )

        after = await eventually(parked)

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    # Other tests in this process publish unit.created too: at least ours was counted.
    assert moved("events_published_total", event_type="unit.created") >= 1
    assert (
        moved(
            "events_consumed_total",
            consumer=ok_queue,
            event_type="unit.created",
            outcome="processed",
        )
        == 1
    )
    assert moved("events_consumed_total", consumer=ok_queue) == 1
    assert moved("events_failed_total", consumer=ok_queue) == 0
    assert moved("events_consumed_total", consumer=failing_queue) == 0
    assert (
        moved("events_failed_total", consumer=failing_queue, event_type="unit.created")
        == expected_attempts
    )
    assert (
        moved("events_dead_lettered_total", consumer=failing_queue, event_type="unit.created") == 1
    )
    assert attempts == [event_id] * expected_attempts


# -- 2. health ---------------------------------------------------------------------------


async def assert_ready(client: httpx.AsyncClient) -> None:
    async def ready() -> bool:
        return (await client.get("/health/ready")).status_code == 200

    await eventually(ready, timeout=15)
    body = (await client.get("/health/ready")).json()
    assert body == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


async def unready_because_of(client: httpx.AsyncClient, check: str) -> dict[str, Any]:
    """Poll /health/ready until it says 503 with ``check`` unavailable; return its body."""

    async def probe() -> dict[str, Any] | None:
        response = await client.get("/health/ready")
        if response.status_code != 503:
            return None
        body = response.json()
        return body if body["checks"][check] != "ok" else None

    return await eventually(probe, timeout=15)


async def assert_live(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def via_proxy(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{proxy.port}"))


@pytest.mark.parametrize(
    ("setting", "default_port", "cut", "kept"),
    [("database_url", 5432, "database", "broker"), ("amqp_url", 5672, "broker", "database")],
)
async def test_ready_reports_what_is_unreachable_and_live_stays_up(
    request, make_settings, setting, default_port, cut, kept
):
    url = request.getfixturevalue(setting)
    target = urlsplit(url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or default_port)
    await proxy.start()
    try:
        overrides: dict[str, Any] = {setting: via_proxy(url, proxy)}
        async with running_service(make_settings, **overrides) as (
            _,
            client,
        ):
            await assert_ready(client)
            await assert_live(client)

            await proxy.cut()
            body = await unready_because_of(client, cut)
            assert body["status"] == "unavailable"
            assert body["checks"][cut].startswith("unavailable")
            assert body["checks"][kept] == "ok"
            await assert_live(client)

            await proxy.restore()
            await assert_ready(client)
    finally:
        await proxy.cut()


# -- 3. two relays on one outbox ---------------------------------------------------------


@contextlib.asynccontextmanager
async def bound_queue(settings: ServiceSettings, routing_key: str) -> AsyncIterator[list[str]]:
    """Message ids of every delivery to an exclusive queue bound to ``routing_key``."""
    deliveries: list[str] = []
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            settings.event_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=routing_key)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            envelope = EventEnvelope.model_validate_json(message.body)
            assert message.message_id == str(envelope.event_id)
            deliveries.append(message.message_id)
            await message.ack()

        await queue.consume(on_message)
        yield deliveries
    finally:
        await connection.close()


async def test_two_relays_on_one_outbox_publish_every_event_exactly_once(make_settings):
    events = 200
    settings = make_settings(
        ServiceSettings, schema=f"ops_{uuid.uuid4().hex[:8]}", service_name=PRODUCER
    )
    setup = create_engine(settings)
    async with setup.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{settings.schema_name}"'))
        await connection.run_sync(messaging_metadata.create_all)
    await setup.dispose()

    # Two replicas: each its own engine, broker connection and relay.
    engines = [create_engine(settings) for _ in range(2)]
    sessionmakers = [create_sessionmaker(engine) for engine in engines]
    buses = [Bus(settings) for _ in range(2)]
    published_by: list[list[str]] = [[], []]
    first_relay_may_go_on = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    def publisher(index: int):
        async def publish(event_id: str, event_type: str, body: str) -> None:
            published_by[index].append(event_id)
            if index == 0:
                # The first relay holds its first batch (rows locked) until the second relay
                # has published something: the second must skip those rows, not wait for them
                # nor publish them too.
                await first_relay_may_go_on.wait()
            await buses[index].publish(event_id, event_type, body)
            if index == 1:
                first_relay_may_go_on.set()

        return publish

    try:
        for bus in buses:
            await bus.connect()
        async with bound_queue(settings, "unit.created") as deliveries:
            expected: set[str] = set()
            async with sessionmakers[0]() as session, session.begin():
                for number in range(events):
                    envelope = await add_event(
                        session, sample_unit_created(f"relay {number}"), producer=PRODUCER
                    )
                    expected.add(str(envelope.event_id))

            def start_relay(index: int) -> None:
                relay = run_relay(
                    sessionmakers[index], publisher(index), batch_size=20, poll_interval=0.1
                )
                tasks.append(asyncio.create_task(relay))

            start_relay(0)
            await eventually(lambda: published_by[0])
            start_relay(1)

            await eventually(lambda: expected <= set(deliveries), timeout=20)
            await asyncio.sleep(0.5)  # any duplicate would arrive meanwhile

            async with sessionmakers[0]() as session:
                unpublished = await session.scalar(
                    sa.select(sa.func.count()).where(outbox_table.c.published_at.is_(None))
                )

        counts = collections.Counter(deliveries)
        assert set(counts) == expected
        assert [event_id for event_id, seen in counts.items() if seen != 1] == []
        assert len(deliveries) == events
        assert unpublished == 0
        # Both relays did part of the work, and no event went through both.
        assert published_by[0] and published_by[1]
        assert not set(published_by[0]) & set(published_by[1])
        assert len(published_by[0]) + len(published_by[1]) == events
    finally:
        first_relay_may_go_on.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for bus in buses:
            await bus.close()
        for engine in engines:
            await engine.dispose()


# -- 4. correlation id -------------------------------------------------------------------


@contextlib.contextmanager
def service_log_capture() -> Iterator[logging.StreamHandler]:
    """A copy of the service's configured log handler (same formatter and context filter)
    writing into memory. ``configure_logging``, run by the app's start-up, replaces the root
    handlers (pytest's caplog among them), so call this after start-up."""
    configured = logging.getLogger().handlers[0]
    capture = logging.StreamHandler(io.StringIO())
    capture.setFormatter(configured.formatter)
    for log_filter in configured.filters:
        capture.addFilter(log_filter)
    logging.getLogger().addHandler(capture)
    try:
        yield capture
    finally:
        logging.getLogger().removeHandler(capture)


def captured_lines(handler: logging.StreamHandler) -> list[dict[str, Any]]:
    stream = handler.stream
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


async def test_request_id_travels_through_the_outbox_into_the_consumers_logs(make_settings):
    seen: dict[str, tuple[str | None, str | None]] = {}
    consumer = Consumer(name=f"ops-corr-{uuid.uuid4().hex[:6]}")

    @consumer.on("unit.created")
    async def record(session: AsyncSession, envelope: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, UnitCreated)
        name = payload.name
        seen[name] = (current_correlation_id(), envelope.correlation_id)
        handler_log.info("handled unit %s", name)

    async with running_service(make_settings, consumers=[consumer], log_json=True) as (_, client):
        with service_log_capture() as capture:
            request_id = f"req-{uuid.uuid4().hex}"
            given = await client.post("/units/traced", headers={REQUEST_ID_HEADER: request_id})
            assert given.status_code == 200
            assert given.headers[REQUEST_ID_HEADER] == request_id

            # Without the header the service makes one up, returns it, and passes it on.
            generated = await client.post("/units/untraced")
            assert generated.status_code == 200
            generated_id = generated.headers[REQUEST_ID_HEADER]
            assert generated_id and generated_id != request_id

            await eventually(lambda: {"traced", "untraced"} <= set(seen))

    # The contextvar the logger reads, inside the handler, and the envelope it came in.
    assert seen["traced"] == (request_id, request_id)
    assert seen["untraced"] == (generated_id, generated_id)

    lines = {
        line["message"]: line
        for line in captured_lines(capture)
        if line.get("logger") == handler_log.name
    }
    traced = lines["handled unit traced"]
    assert traced["correlation_id"] == request_id
    assert traced["service"] == PRODUCER
    assert traced["level"] == "INFO"
    assert lines["handled unit untraced"]["correlation_id"] == generated_id


async def _never_called(
    session: AsyncSession, envelope: EventEnvelope, payload: EventPayload
) -> None:
    raise AssertionError("a consumer that refused to start handled an event")


async def test_not_ready_until_its_consumers_consume(make_settings):
    """Connected to the broker is not enough: a replica whose consumers have not started
    (here one that refuses to, its handlers differing from its subscription) gets no
    traffic."""
    broken = Consumer(name="tickets.directory")
    broken.on("unit.created")(_never_called)
    settings = make_settings(
        ServiceSettings, schema=f"ops_{uuid.uuid4().hex[:8]}", service_name=PRODUCER
    )
    app = create_service_app(
        settings=settings,
        title="operability test",
        routers=[probe_router()],
        consumers=[broken],
        build_runtime=create_messaging_schema,
    )
    async with app_client(app) as client:
        await asyncio.wait_for(app.state.runtime.bus.wait_connected(), timeout=10)
        await asyncio.sleep(0.5)  # time for the consumer to have started, were it able to
        response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": "ok", "broker": "starting"}
        await assert_live(client)
