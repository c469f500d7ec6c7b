"""A consumer with ``batch_size`` > 1: waiting events share a transaction, failures go alone."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator

import aio_pika
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_common.bus import Bus
from helpdesk_common.consumer import Consumer, start_consumer
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.identity import UnitCreated
from helpdesk_common.db import create_engine, create_sessionmaker
from helpdesk_common.dead_letters import peek_dead_letters
from helpdesk_common.outbox import inbox_table, messaging_metadata
from helpdesk_common.settings import ServiceSettings
from helpdesk_testing import eventually, sample_unit_created


def unit_created(name: str) -> EventEnvelope:
    return EventEnvelope.wrap(sample_unit_created(name), producer="batchtest")


@contextlib.asynccontextmanager
async def consuming(
    make_settings, consumer: Consumer
) -> AsyncIterator[tuple[ServiceSettings, async_sessionmaker[AsyncSession], Bus]]:
    settings = make_settings(
        ServiceSettings, schema=f"batch_{uuid.uuid4().hex[:8]}", service_name="batchtest"
    )
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{settings.schema_name}"'))
        await connection.run_sync(messaging_metadata.create_all)
    sessionmaker = create_sessionmaker(engine)
    bus = Bus(settings)
    try:
        await bus.connect()
        await start_consumer(bus, consumer, sessionmaker)
        yield settings, sessionmaker, bus
    finally:
        await bus.close()
        await engine.dispose()


async def publish(bus: Bus, envelope: EventEnvelope) -> None:
    await bus.publish(str(envelope.event_id), envelope.event_type, envelope.model_dump_json())


async def test_waiting_events_share_transactions_and_each_runs_once(make_settings):
    seen: list[tuple[uuid.UUID, int]] = []
    consumer = Consumer(name=f"batch-{uuid.uuid4().hex[:6]}", batch_size=8)
    gate = asyncio.Event()

    @consumer.on("unit.created")
    async def remember(session: AsyncSession, envelope: EventEnvelope, _: EventPayload) -> None:
        await gate.wait()  # hold the first batches so the others queue up behind them
        seen.append((envelope.event_id, id(session)))

    async with consuming(make_settings, consumer) as (_, sessionmaker, bus):
        envelopes = [unit_created(f"unit {n}") for n in range(30)]
        for envelope in envelopes:
            await publish(bus, envelope)
        await publish(bus, envelopes[3])  # delivered twice, maybe in the same batch
        await asyncio.sleep(0.3)
        gate.set()
        await eventually(lambda: len(seen) >= len(envelopes))
        await asyncio.sleep(0.3)

        handled = [event_id for event_id, _ in seen]
        assert sorted(map(str, handled)) == sorted(str(e.event_id) for e in envelopes)
        # Fewer transactions (sessions) than events: they were handled in batches.
        assert len({session for _, session in seen}) < len(envelopes) / 2
        async with sessionmaker() as session:
            inbox = await session.scalar(sa.select(sa.func.count()).select_from(inbox_table))
        assert inbox == len(envelopes)


async def test_a_failing_event_is_retried_alone_and_the_rest_of_its_batch_goes_through(
    make_settings,
):
    attempts: dict[str, int] = {}
    consumer = Consumer(name=f"batchfail-{uuid.uuid4().hex[:6]}", batch_size=8)
    gate = asyncio.Event()

    @consumer.on("unit.created")
    async def flaky(session: AsyncSession, envelope: EventEnvelope, payload: EventPayload) -> None:
        await gate.wait()
        assert isinstance(payload, UnitCreated)
        name = payload.name
        attempts[name] = attempts.get(name, 0) + 1
        if name == "bad":
            raise ValueError("downstream refused")

    async with consuming(make_settings, consumer) as (settings, sessionmaker, bus):
        names = [f"good {n}" for n in range(5)] + ["bad"] + [f"good {n}" for n in range(5, 10)]
        for name in names:
            await publish(bus, unit_created(name))
        await asyncio.sleep(0.3)
        gate.set()

        queue = settings.queue_name(consumer.name)
        letters = await eventually(lambda: peek_dead_letters(bus, queue), timeout=15)
        assert len(letters) == 1 and "downstream refused" in (letters[0].last_error or "")
        # Every good event committed exactly once, although some shared a batch with "bad"
        # (their first try rolled back with it).
        async with sessionmaker() as session:
            inbox = await session.scalar(sa.select(sa.func.count()).select_from(inbox_table))
        assert inbox == len(names) - 1
        assert attempts["bad"] >= 1 + len(settings.retry_delays)


async def test_batches_are_acknowledged_with_one_frame_when_safe_and_nothing_is_left(
    make_settings, monkeypatch
):
    """Batches finishing out of order, a poison message among them: every delivery is
    settled exactly once (an acknowledgement twice, or of a tag still being handled, would
    close the channel and bring the messages back), and most batches took one frame."""
    multi_acks: list[int] = []
    original_ack = aio_pika.IncomingMessage.ack

    async def counting_ack(self: aio_pika.IncomingMessage, multiple: bool = False) -> None:
        if multiple:
            multi_acks.append(self.delivery_tag or 0)
        await original_ack(self, multiple)

    monkeypatch.setattr(aio_pika.IncomingMessage, "ack", counting_ack)
    handled: list[str] = []
    consumer = Consumer(name=f"batchack-{uuid.uuid4().hex[:6]}", batch_size=4)
    gate = asyncio.Event()

    @consumer.on("unit.created")
    async def slow(session: AsyncSession, envelope: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, UnitCreated)
        await gate.wait()  # the deliveries queue up into batches meanwhile
        await asyncio.sleep(random.uniform(0, 0.02))  # later batches may finish first
        handled.append(payload.name)

    async with consuming(make_settings, consumer) as (settings, _, bus):
        names = [f"unit {n}" for n in range(60)]
        for index, name in enumerate(names):
            await publish(bus, unit_created(name))
            if index == 20:
                await bus.publish(str(uuid.uuid4()), "unit.created", "not json")
        await asyncio.sleep(0.3)
        gate.set()
        await eventually(lambda: len(handled) >= len(names), timeout=15)
        queue = settings.queue_name(consumer.name)
        letters = await eventually(lambda: peek_dead_letters(bus, queue), timeout=10)
        assert len(letters) == 1
        await asyncio.sleep(0.2)
    assert sorted(handled) == sorted(names)
    assert multi_acks, "no batch was acknowledged with one frame"

    # The consumer's connection is closed: a delivery it left unacknowledged is back.
    async with consuming(make_settings, Consumer(name="idle")) as (_, _, bus):
        channel = await bus.channel()
        declared = await channel.declare_queue(queue, passive=True)
        assert declared.declaration_result.message_count == 0


async def test_a_lingering_batch_gathers_events_arriving_apart_and_a_full_one_goes_at_once(
    make_settings,
):
    seen: list[tuple[str, int]] = []
    consumer = Consumer(name=f"batchlinger-{uuid.uuid4().hex[:6]}", batch_size=3, linger=1.0)

    @consumer.on("unit.created")
    async def remember(
        session: AsyncSession, envelope: EventEnvelope, payload: EventPayload
    ) -> None:
        assert isinstance(payload, UnitCreated)
        seen.append((payload.name, id(session)))

    async with consuming(make_settings, consumer) as (_, _, bus):
        started = asyncio.get_running_loop().time()
        for name in ("a", "b", "c"):  # apart, while the consumer is idle
            await publish(bus, unit_created(name))
            await asyncio.sleep(0.1)
        await eventually(lambda: len(seen) == 3, timeout=10)
        # One transaction for the three, and no waiting for the linger's end once full.
        assert len({session for _, session in seen}) == 1
        assert asyncio.get_running_loop().time() - started < 0.9

        await publish(bus, unit_created("d"))  # alone: goes when the linger ends
        await eventually(lambda: len(seen) == 4, timeout=10)
