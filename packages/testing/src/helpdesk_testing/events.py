"""Events for tests: a sample payload, and a tap on everything published to an exchange."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aio_pika

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.identity import UnitCreated
from helpdesk_common.settings import ServiceSettings


def sample_unit_created(name: str = "Dinas Kominfo") -> UnitCreated:
    """A valid ``unit.created`` payload, for tests that need some event to move around."""
    return UnitCreated(
        unit_id=uuid.uuid4(),
        code=name[:8].upper(),
        name=name,
        is_active=True,
        revision=1,
        updated_at=datetime.now(UTC),
    )


@contextlib.asynccontextmanager
async def event_tap(settings: ServiceSettings) -> AsyncIterator[list[EventEnvelope]]:
    """Every event that reaches the settings' exchange (an exclusive queue bound to '#')."""
    seen: list[EventEnvelope] = []
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        settings.event_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="#")

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        seen.append(EventEnvelope.model_validate_json(message.body))
        await message.ack()

    await queue.consume(on_message)
    try:
        yield seen
    finally:
        await connection.close()
