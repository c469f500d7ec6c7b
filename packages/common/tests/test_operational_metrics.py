"""The metrics operators alert on: outbox backlog and age, queue lag, retries and dead letters.

Against the real PostgreSQL and RabbitMQ: the numbers must be the broker's and the database's,
not the process's idea of them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_common.bus import (
    Bus,
    dead_letter_queue_name,
    declare_consumer_queues,
    retry_queue_name,
)
from helpdesk_common.db import create_engine, create_sessionmaker
from helpdesk_common.outbox import add_event, messaging_metadata, outbox_table, record_backlog
from helpdesk_common.queue_depths import sample_once, sample_queue_depths
from helpdesk_common.settings import ServiceSettings
from helpdesk_testing import eventually, sample_unit_created


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


@pytest.fixture
async def outbox_sessions(make_settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    settings = make_settings(ServiceSettings, schema=f"met_{uuid.uuid4().hex[:8]}")
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{settings.schema_name}"'))
        await connection.run_sync(messaging_metadata.create_all)
    try:
        yield create_sessionmaker(engine)
    finally:
        async with engine.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{settings.schema_name}" CASCADE'))
        await engine.dispose()


@pytest.fixture
async def bus(make_settings) -> AsyncIterator[Bus]:
    # Long retry delays: a message put in a retry queue stays there while the test looks.
    bus = Bus(make_settings(ServiceSettings, retry_delays=[60.0, 300.0]))
    connect = asyncio.create_task(bus.connect())
    await bus.wait_connected()
    try:
        yield bus
    finally:
        connect.cancel()
        await bus.close()


async def test_outbox_backlog_and_the_age_of_its_oldest_row(outbox_sessions):
    async with outbox_sessions() as session, session.begin():
        first = await add_event(session, sample_unit_created("lama"), producer="mettest")
        await add_event(session, sample_unit_created("baru"), producer="mettest")
        await session.execute(
            sa.update(outbox_table)
            .where(outbox_table.c.event_id == first.event_id)
            .values(created_at=sa.func.now() - sa.text("interval '10 minutes'"))
        )
    await record_backlog(outbox_sessions)
    assert gauge("outbox_backlog") == 2
    assert 600 <= (gauge("outbox_oldest_age_seconds") or 0) < 700

    async with outbox_sessions() as session, session.begin():
        await session.execute(sa.update(outbox_table).values(published_at=sa.func.now()))
    await record_backlog(outbox_sessions)
    assert gauge("outbox_backlog") == 0
    assert gauge("outbox_oldest_age_seconds") == 0


async def _put(channel: aio_pika.abc.AbstractChannel, queue: str, count: int) -> None:
    for n in range(count):
        await channel.default_exchange.publish(aio_pika.Message(f"{n}".encode()), routing_key=queue)


async def test_queue_depths_are_the_brokers_ready_retrying_and_parked_messages(bus):
    queue = bus.settings.queue_name(f"depth-{uuid.uuid4().hex[:6]}")
    channel = await bus.channel()
    await declare_consumer_queues(channel, bus.settings, queue=queue, event_types=["unit.created"])
    await _put(channel, queue, 3)
    await _put(channel, retry_queue_name(queue, 60.0), 1)
    await _put(channel, retry_queue_name(queue, 300.0), 1)
    await _put(channel, dead_letter_queue_name(queue), 2)

    async def sampled() -> bool:
        await sample_once(channel, queue, retry_delays=bus.settings.retry_delays)
        return gauge("bus_queue_messages", queue=queue) == 3

    await eventually(sampled)  # the broker's counts follow the publishes within moments
    assert gauge("bus_queue_consumers", queue=queue) == 0
    assert gauge("bus_retry_messages", queue=queue) == 2
    assert gauge("bus_dead_letter_messages", queue=queue) == 2

    async def hold(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        pass  # unacknowledged: the consumer only has to be there

    consuming = await channel.declare_queue(queue, passive=True)
    tag = await consuming.consume(hold)
    await sample_once(channel, queue, retry_delays=bus.settings.retry_delays)
    assert gauge("bus_queue_consumers", queue=queue) == 1
    await consuming.cancel(tag)
    await channel.close()


async def test_a_queue_not_declared_yet_does_not_stop_the_others_being_sampled(bus):
    missing = bus.settings.queue_name(f"missing-{uuid.uuid4().hex[:6]}")
    queue = bus.settings.queue_name(f"present-{uuid.uuid4().hex[:6]}")
    channel = await bus.channel()
    await declare_consumer_queues(channel, bus.settings, queue=queue, event_types=["unit.created"])
    await _put(channel, dead_letter_queue_name(queue), 1)
    await channel.close()

    sampler = asyncio.create_task(sample_queue_depths(bus, [missing, queue], interval=0.05))
    try:
        await eventually(lambda: gauge("bus_dead_letter_messages", queue=queue) == 1)
        assert gauge("bus_queue_messages", queue=missing) is None
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
