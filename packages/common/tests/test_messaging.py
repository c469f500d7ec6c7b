"""Outbox, relay, inbox, retries and dead letters against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_common.bus import (
    Bus,
    dead_letter_queue_name,
    declare_consumer_queues,
    declare_exchange,
)
from helpdesk_common.consumer import Consumer, start_consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.identity import UnitCreated
from helpdesk_common.contracts.subscriptions import RETIRED_SUBSCRIPTIONS, SUBSCRIPTIONS
from helpdesk_common.db import create_engine, create_sessionmaker
from helpdesk_common.dead_letters import peek_dead_letters, replay_dead_letters
from helpdesk_common.outbox import add_event, messaging_metadata, outbox_table, run_relay
from helpdesk_common.settings import ServiceSettings
from helpdesk_testing import TcpProxy, event_tap, eventually, sample_unit_created


@contextlib.asynccontextmanager
async def messaging_service(
    make_settings, *, amqp_url: str | None = None, relay: bool = True
) -> AsyncIterator[tuple[ServiceSettings, async_sessionmaker[AsyncSession], Bus]]:
    """A minimal service: its own schema with outbox and inbox, a bus, and a relay."""
    overrides = {"amqp_url": amqp_url} if amqp_url else {}
    settings = make_settings(
        ServiceSettings, schema=f"msg_{uuid.uuid4().hex[:8]}", service_name="msgtest", **overrides
    )
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{settings.schema_name}"'))
        await connection.run_sync(messaging_metadata.create_all)
    sessionmaker = create_sessionmaker(engine)
    bus = Bus(settings)
    connect = asyncio.create_task(bus.connect())
    tasks = [connect]
    if relay:
        tasks.append(asyncio.create_task(run_relay(sessionmaker, bus.publish, poll_interval=0.1)))
    try:
        yield settings, sessionmaker, bus
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.close()
        await engine.dispose()


async def unpublished(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                sa.select(sa.func.count()).where(outbox_table.c.published_at.is_(None))
            )
            or 0
        )


async def test_committed_event_is_published_with_its_envelope(make_settings, amqp_url):
    async with messaging_service(make_settings) as (settings, sessionmaker, bus):
        await bus.wait_connected()
        async with event_tap(settings) as seen:
            payload = sample_unit_created()
            async with sessionmaker() as session, session.begin():
                envelope = await add_event(session, payload, producer="msgtest")
            await eventually(lambda: len(seen) == 1)
            assert seen[0].event_id == envelope.event_id
            assert seen[0].event_type == "unit.created"
            assert seen[0].producer == "msgtest"
            assert seen[0].payload["unit_id"] == str(payload.unit_id)
            assert await unpublished(sessionmaker) == 0


async def test_rolled_back_transaction_publishes_nothing(make_settings, amqp_url):
    async with messaging_service(make_settings) as (settings, sessionmaker, bus):
        await bus.wait_connected()
        async with event_tap(settings) as seen:
            with pytest.raises(RuntimeError):
                async with sessionmaker() as session, session.begin():
                    await add_event(session, sample_unit_created("rolled back"), producer="msgtest")
                    raise RuntimeError("business rule failed")
            # A committed marker event proves the relay ran after the rollback.
            async with sessionmaker() as session, session.begin():
                marker = await add_event(session, sample_unit_created("marker"), producer="msgtest")
            await eventually(lambda: any(e.event_id == marker.event_id for e in seen))
            await asyncio.sleep(0.3)
            assert [e.payload["name"] for e in seen] == ["marker"]


async def test_event_committed_while_broker_is_down_is_published_when_it_returns(
    make_settings, amqp_url
):
    broker = urlsplit(amqp_url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    await proxy.start()
    via_proxy = urlunsplit(broker._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))
    async with messaging_service(make_settings, amqp_url=via_proxy) as (settings, sm, bus):
        await bus.wait_connected()
        async with event_tap(settings.model_copy(update={"amqp_url": amqp_url})) as seen:
            await proxy.cut()
            await eventually(lambda: not bus.is_connected)
            async with sm() as session, session.begin():
                offline = sample_unit_created("offline")
                envelope = await add_event(session, offline, producer="msgtest")
            await asyncio.sleep(1.0)
            assert seen == []
            assert await unpublished(sm) == 1

            await proxy.restore()
            await eventually(lambda: len(seen) >= 1, timeout=30)
            await asyncio.sleep(0.5)
            assert [e.event_id for e in seen] == [envelope.event_id]
            assert await unpublished(sm) == 0
    await proxy.cut()


async def publish_raw(bus: Bus, envelope: EventEnvelope) -> None:
    await bus.publish(str(envelope.event_id), envelope.event_type, envelope.model_dump_json())


async def test_same_event_delivered_twice_is_handled_once(make_settings):
    handled: list[uuid.UUID] = []
    consumer = Consumer(name=f"dup-{uuid.uuid4().hex[:6]}")

    @consumer.on("unit.created")
    async def remember(session: AsyncSession, envelope: EventEnvelope, _: EventPayload) -> None:
        handled.append(envelope.event_id)

    async with messaging_service(make_settings, relay=False) as (_, sessionmaker, bus):
        await bus.wait_connected()
        await start_consumer(bus, consumer, sessionmaker)
        envelope = EventEnvelope.wrap(sample_unit_created(), producer="msgtest")
        await publish_raw(bus, envelope)
        await publish_raw(bus, envelope)
        other = EventEnvelope.wrap(sample_unit_created("other"), producer="msgtest")
        await publish_raw(bus, other)
        await eventually(lambda: other.event_id in handled)
        await asyncio.sleep(0.3)
        assert sorted(map(str, handled)) == sorted([str(envelope.event_id), str(other.event_id)])


async def test_failing_message_is_retried_then_dead_lettered_and_can_be_replayed(make_settings):
    attempts: list[uuid.UUID] = []
    fail = True
    consumer = Consumer(name=f"fail-{uuid.uuid4().hex[:6]}")

    @consumer.on("unit.created")
    async def flaky(session: AsyncSession, envelope: EventEnvelope, _: EventPayload) -> None:
        attempts.append(envelope.event_id)
        if fail:
            raise ValueError("downstream refused")

    async with messaging_service(make_settings, relay=False) as (settings, sessionmaker, bus):
        await bus.wait_connected()
        await start_consumer(bus, consumer, sessionmaker)
        queue = settings.queue_name(consumer.name)
        envelope = EventEnvelope.wrap(sample_unit_created(), producer="msgtest")
        await publish_raw(bus, envelope)

        # One first attempt plus one per configured retry delay, then parked.
        expected_attempts = 1 + len(settings.retry_delays)
        await eventually(lambda: len(attempts) == expected_attempts)
        letters = await eventually(lambda: peek_dead_letters(bus, queue))
        assert len(letters) == 1
        assert letters[0].message_id == str(envelope.event_id)
        assert letters[0].retries == expected_attempts
        assert "downstream refused" in (letters[0].last_error or "")
        await asyncio.sleep(0.5)
        assert len(attempts) == expected_attempts

        # Peeking leaves the message parked; replay moves it back and it now succeeds.
        assert len(await peek_dead_letters(bus, queue)) == 1
        fail = False
        assert await replay_dead_letters(bus, queue) == 1
        await eventually(lambda: len(attempts) == expected_attempts + 1)
        assert await peek_dead_letters(bus, queue) == []


async def test_undecodable_message_is_parked_and_consumer_keeps_going(make_settings):
    handled: list[str] = []
    consumer = Consumer(name=f"poison-{uuid.uuid4().hex[:6]}")

    @consumer.on("unit.created")
    async def record(session: AsyncSession, envelope: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, UnitCreated)
        handled.append(payload.name)

    async with messaging_service(make_settings, relay=False) as (settings, sessionmaker, bus):
        await bus.wait_connected()
        await start_consumer(bus, consumer, sessionmaker)
        await bus.publish(str(uuid.uuid4()), "unit.created", '{"not": "an envelope"}')
        await publish_raw(bus, EventEnvelope.wrap(sample_unit_created("after"), producer="msgtest"))
        await eventually(lambda: handled == ["after"])
        queue = settings.queue_name(consumer.name)
        letters = await eventually(lambda: peek_dead_letters(bus, queue))
        assert len(letters) == 1 and letters[0].body == {"not": "an envelope"}
        assert dead_letter_queue_name(queue).endswith(".dead")


async def test_event_published_before_its_consumer_first_ran_waits_for_it(make_settings):
    """A first start: identity publishes before the tickets service ever declared its queue."""
    handled: list[uuid.UUID] = []
    consumer = Consumer(name="tickets.directory")

    async def remember(session: AsyncSession, envelope: EventEnvelope, _: EventPayload) -> None:
        handled.append(envelope.event_id)

    for event_type in SUBSCRIPTIONS["tickets.directory"]:
        consumer.on(event_type)(remember)

    async with messaging_service(make_settings) as (_, producer_sessions, producer_bus):
        await producer_bus.wait_connected()
        async with producer_sessions() as session, session.begin():
            early = sample_unit_created("sebelum konsumen")
            envelope = await add_event(session, early, producer="msgtest")
        await eventually(lambda: _no_backlog(producer_sessions))
        async with messaging_service(make_settings, relay=False) as (_, sessions, bus):
            await bus.wait_connected()
            await start_consumer(bus, consumer, sessions)
            await eventually(lambda: envelope.event_id in handled)


async def _no_backlog(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    return await unpublished(sessionmaker) == 0


async def _never_called(
    session: AsyncSession, envelope: EventEnvelope, payload: EventPayload
) -> None:
    raise AssertionError("a consumer that refused to start handled an event")


async def test_a_consumer_whose_handlers_differ_from_its_subscription_refuses_to_start(
    make_settings,
):
    consumer = Consumer(name="tickets.directory")
    consumer.on("unit.created")(_never_called)
    async with messaging_service(make_settings, relay=False) as (_, sessionmaker, bus):
        await bus.wait_connected()
        with pytest.raises(ValueError, match=r"contracts\.subscriptions"):
            await start_consumer(bus, consumer, sessionmaker)


async def test_a_retired_subscription_is_unbound_from_an_installations_queue(make_settings):
    """An installation's durable queue keeps the bindings of an older release until a start
    unbinds the event types its consumer no longer takes (RETIRED_SUBSCRIPTIONS)."""
    name = "attachments.tickets"
    [retired, *_] = RETIRED_SUBSCRIPTIONS[name]
    current = list(SUBSCRIPTIONS[name])
    async with messaging_service(make_settings, relay=False) as (settings, _, bus):
        await bus.wait_connected()
        queue_name = settings.queue_name(name)
        channel = await bus.channel(prefetch=10)
        # The queue as the older release left it, bound to the retired type too.
        await declare_consumer_queues(
            channel, settings, queue=queue_name, event_types=[*current, retired]
        )
        queue = await declare_consumer_queues(
            channel, settings, queue=queue_name, event_types=current
        )
        exchange = await declare_exchange(channel, settings)
        for routing_key in (retired, current[0]):
            await exchange.publish(aio_pika.Message(b"{}"), routing_key=routing_key)

        routed: list[str | None] = []

        async def arrived() -> bool:
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                routed.append(message.routing_key)
            return current[0] in routed

        # Published one after the other on one channel: the broker routed the retired type
        # (published first) before the current one, if it routed it at all.
        await eventually(arrived)
        assert routed == [current[0]]
        await channel.close()
