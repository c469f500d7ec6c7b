"""RabbitMQ connection, topology and publishing (aio-pika).

Topology, declared explicitly by whoever needs it:
- one durable topic exchange (``helpdesk.events``); the routing key is the event type;
- per consumer: a durable queue ``<name>`` bound to the event types it handles (every
  service declares the queues of all consumers in ``contracts.subscriptions`` on connect,
  so no event is dropped for want of a queue before its consumer first ran),
  retry queues ``<name>.retry.<delay>ms`` whose TTL is a back-off delay and which dead-letter
  back into ``<name>``, and a parking queue ``<name>.dead`` for messages that used up their
  retries (inspect and replay them with :mod:`helpdesk_common.dead_letters`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

import aio_pika
import aiormq.connection
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq import spec

from helpdesk_common.contracts.subscriptions import RETIRED_SUBSCRIPTIONS, SUBSCRIPTIONS
from helpdesk_common.errors import BrokerUnavailable
from helpdesk_common.observability import EVENTS_PUBLISHED
from helpdesk_common.settings import ServiceSettings

if TYPE_CHECKING:
    from pamqp.common import FieldTable

log = logging.getLogger("helpdesk.bus")

# aiormq queues outgoing frames for the socket writer in a queue of 10: with more in flight,
# each further publish waits for the writer task, one event-loop round per message. On a
# service whose loop is busy with requests (tens of ms per round) a relay batch of 200
# events took seconds, and the outbox fell behind by thousands of events under load.
aiormq.connection.Connection.FRAME_BUFFER_SIZE = max(
    aiormq.connection.Connection.FRAME_BUFFER_SIZE, 1024
)


class PublishRefused(RuntimeError):
    """The broker answered a publish with a nack: the message was not taken."""


class Bus:
    """One robust connection per process: a confirming publish channel, consumer channels."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._connected = asyncio.Event()

    @property
    def is_connected(self) -> bool:
        return (
            self.connection is not None
            and not self.connection.is_closed
            and self.connection.connected.is_set()
        )

    async def connect(self, *, max_backoff: float = 10.0) -> None:
        """Connect, retrying until the broker answers; aio-pika reconnects after that."""
        backoff = 0.5
        while self.connection is None:
            try:
                connection = await aio_pika.connect_robust(
                    self.settings.amqp_url,
                    client_properties={"connection_name": self.settings.service_name},
                    reconnect_interval=self.settings.broker_reconnect_interval,
                )
                try:
                    channel = await connection.channel(publisher_confirms=True)
                    self._exchange = await declare_exchange(channel, self.settings)
                    await declare_subscriber_queues(connection, self.settings)
                except BaseException:
                    await connection.close()  # the next attempt opens a new one
                    raise
                self._channel = channel
                self.connection = connection
            except (OSError, aio_pika.exceptions.AMQPError) as exc:
                log.warning("broker unreachable, retrying in %.1fs: %r", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(max_backoff, backoff * 2)
        self._connected.set()

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def channel(self, *, prefetch: int | None = None) -> AbstractChannel:
        # Not merely "ever connected": while the robust connection is re-connecting, aio-pika
        # would raise a bare RuntimeError ("Connection was not opened"), a 500.
        if self.connection is None or not self.is_connected:
            raise BrokerUnavailable("not connected to the broker")
        channel = await self.connection.channel(publisher_confirms=True)
        if prefetch:
            await channel.set_qos(prefetch_count=prefetch)
        return channel

    async def publish(self, event_id: str, event_type: str, body: str) -> None:
        """Publish one serialized envelope; returns once the broker confirmed it."""
        if self._exchange is None or self._channel is None or not self.is_connected:
            raise BrokerUnavailable("not connected to the broker")
        # aio-pika's publish holds the channel's lock until the writer task has put the
        # frames on the socket, two event-loop rounds per message: on a busy loop a relay
        # batch of 200 took seconds. The lower layer without that wait (``wait=False``)
        # queues the frames at once; the broker's confirm, awaited here, is what counts.
        # aio-pika's underlay is aiormq's Channel, whose basic_publish takes ``wait`` (the
        # abstract channel that get_underlay_channel() is annotated with does not declare it).
        channel = cast(aiormq.Channel, await self._channel.get_underlay_channel())
        confirmation = await channel.basic_publish(
            body.encode(),
            exchange=self._exchange.name,
            routing_key=event_type,
            properties=spec.Basic.Properties(
                content_type="application/json",
                delivery_mode=2,  # persistent
                message_id=event_id,
                message_type=event_type,
                timestamp=datetime.now(UTC),
                app_id=self.settings.service_name,
            ),
            # Unroutable (no queue bound to its type) is not an error: nobody wants it.
            mandatory=False,
            timeout=10,
            wait=False,
        )
        if not isinstance(confirmation, spec.Basic.Ack):
            raise PublishRefused(f"the broker refused event {event_id}: {confirmation!r}")
        EVENTS_PUBLISHED.labels(event_type).inc()

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None
            self._channel = None
            self._exchange = None
            self._connected.clear()


async def declare_exchange(channel: AbstractChannel, settings: ServiceSettings) -> AbstractExchange:
    return await channel.declare_exchange(
        settings.event_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}.dead"


def retry_queue_name(queue: str, delay: float) -> str:
    # Named by delay, so changing the configured back-off declares new queues instead of
    # clashing with the arguments of existing ones.
    return f"{queue}.retry.{int(delay * 1000)}ms"


def queue_arguments(settings: ServiceSettings) -> FieldTable:
    if settings.queue_expires_seconds:
        return {"x-expires": int(settings.queue_expires_seconds * 1000)}
    return {}


def _main_queue_arguments(settings: ServiceSettings, queue: str) -> FieldTable:
    # A message rejected without requeue (undecodable, say) is parked, never lost.
    return {
        **queue_arguments(settings),
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dead_letter_queue_name(queue),
    }


async def _declare_bound_queue(
    channel: AbstractChannel, settings: ServiceSettings, *, queue: str, event_types: Iterable[str]
) -> AbstractQueue:
    """A consumer's queue, its dead-letter queue, and its bindings to the event types."""
    exchange = await declare_exchange(channel, settings)
    await channel.declare_queue(
        dead_letter_queue_name(queue), durable=True, arguments=queue_arguments(settings)
    )
    main = await channel.declare_queue(
        queue, durable=True, arguments=_main_queue_arguments(settings, queue)
    )
    bound = set(event_types)
    for event_type in bound:
        await main.bind(exchange, routing_key=event_type)
    for event_type in RETIRED_SUBSCRIPTIONS.get(queue.removeprefix(settings.queue_prefix), ()):
        if event_type not in bound:
            await main.unbind(exchange, routing_key=event_type)
    return main


async def declare_subscriber_queues(
    connection: AbstractRobustConnection, settings: ServiceSettings
) -> None:
    """Every consumer's queue, dead-letter queue and bindings (not its retry tiers, which
    only the consumer uses): see :mod:`helpdesk_common.contracts.subscriptions`."""
    for name, event_types in SUBSCRIPTIONS.items():
        queue = settings.queue_name(name)
        # A channel per queue: a declaration the broker refuses closes its channel.
        channel = await connection.channel()
        try:
            await _declare_bound_queue(channel, settings, queue=queue, event_types=event_types)
        except aio_pika.exceptions.ChannelPreconditionFailed as exc:
            # The queue exists with other arguments (another service's settings): it
            # exists, which is all this is for; its consumer keeps it as it wants.
            log.warning("queue %s exists with other arguments: %s", queue, exc)
        finally:
            if not channel.is_closed:
                await channel.close()


async def declare_consumer_queues(
    channel: AbstractChannel,
    settings: ServiceSettings,
    *,
    queue: str,
    event_types: list[str],
) -> AbstractQueue:
    """The consumer's queue with its bindings, retry tiers and dead-letter queue."""
    for delay in settings.retry_delays:
        await channel.declare_queue(
            retry_queue_name(queue, delay),
            durable=True,
            arguments={
                **queue_arguments(settings),
                "x-message-ttl": int(delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue,
            },
        )
    return await _declare_bound_queue(channel, settings, queue=queue, event_types=event_types)
