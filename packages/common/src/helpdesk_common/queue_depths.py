"""The broker's view of a service's queues as metrics: consumer lag, consumers, retries, DLQ.

Each consuming replica asks RabbitMQ (a passive declare: it reads, never creates) how many
messages wait in its queues, every ``interval`` seconds. Every replica reports the same
numbers; dashboards and alerts take the max per queue. An operator sees a growing lag, a
queue nobody consumes or a non-empty dead-letter queue without opening RabbitMQ's UI.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aio_pika.abc import AbstractChannel

from helpdesk_common.bus import Bus, dead_letter_queue_name, retry_queue_name
from helpdesk_common.observability import (
    BUS_DEAD_LETTER_MESSAGES,
    BUS_QUEUE_CONSUMERS,
    BUS_QUEUE_MESSAGES,
    BUS_RETRY_MESSAGES,
)

log = logging.getLogger("helpdesk.bus")


async def _depth(channel: AbstractChannel, queue: str) -> tuple[int, int]:
    # aiormq's channel, not aio-pika's declare_queue: aio-pika 10 answers a repeated passive
    # declare on one channel from its first result (seen: 0 messages while the broker held 3).
    raw = await channel.get_underlay_channel()
    result = await raw.queue_declare(queue, passive=True)
    return int(result.message_count or 0), int(result.consumer_count or 0)


async def sample_once(
    channel: AbstractChannel, queue: str, *, retry_delays: Sequence[float]
) -> None:
    ready, consumers = await _depth(channel, queue)
    BUS_QUEUE_MESSAGES.labels(queue).set(ready)
    BUS_QUEUE_CONSUMERS.labels(queue).set(consumers)
    waiting = 0
    for delay in retry_delays:
        waiting += (await _depth(channel, retry_queue_name(queue, delay)))[0]
    BUS_RETRY_MESSAGES.labels(queue).set(waiting)
    BUS_DEAD_LETTER_MESSAGES.labels(queue).set(
        (await _depth(channel, dead_letter_queue_name(queue)))[0]
    )


async def sample_queue_depths(bus: Bus, queues: Sequence[str], *, interval: float) -> None:
    """Forever: sample every queue, then sleep. A failed sample (broker away, a queue not
    declared yet: a passive declare of a missing queue closes the channel) leaves the last
    values and opens a new channel next round."""
    channel: AbstractChannel | None = None
    while True:
        await bus.wait_connected()
        for queue in queues:
            try:
                if channel is None or channel.is_closed:
                    channel = await bus.channel()
                await sample_once(channel, queue, retry_delays=bus.settings.retry_delays)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("sampling queue %s failed: %r", queue, exc)
                channel = None
        await asyncio.sleep(interval)
