"""Consuming events exactly once in effect: inbox, retries with back-off, dead-lettering.

For each delivery: the handler runs in one database transaction together with an insert
into the service's ``inbox`` (consumer, event id). A redelivered event finds its inbox row
and is acknowledged without running the handler again. A handler that raises is retried
through the retry queues (1 s, 5 s, 30 s by default); after the last retry the message is
parked in ``<queue>.dead`` with the error in its headers. An undecodable message is parked
at once. A message is acknowledged only after its retry or parking copy is confirmed by the
broker, so a failure is never lost.

A consumer with ``batch_size`` > 1 handles the deliveries that are already waiting together:
one transaction with all their inbox rows, the handlers run one after the other in it. That
saves a transaction (begin, inbox insert, commit: three round trips and their CPU) per event
when events come faster than they are handled, and costs nothing when they do not (a lone
event is a batch of one). Should the batch fail, its events are handled one by one as
above, so a failing event is retried or parked alone and the others go through. A handled
batch is acknowledged with one frame (``multiple``) when every earlier delivery of the
channel is settled too, else one delivery at a time (``_Acks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import sqlalchemy as sa
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractMessage
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_common.bus import (
    Bus,
    dead_letter_queue_name,
    declare_consumer_queues,
    retry_queue_name,
)
from helpdesk_common.context import reset_correlation_id, set_correlation_id
from helpdesk_common.contracts import CATALOGUE, EventEnvelope, EventPayload, parse_payload
from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from helpdesk_common.observability import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_FAILED
from helpdesk_common.outbox import inbox_table
from helpdesk_common.settings import ServiceSettings

log = logging.getLogger("helpdesk.consumer")

Handler = Callable[[AsyncSession, EventEnvelope, EventPayload], Awaitable[None]]
# Runs once at the end of each transaction of handled events, before it commits: handlers
# may leave work in ``session.info`` to be done once per batch (a read model's upserts).
Flush = Callable[[AsyncSession], Awaitable[None]]

RETRY_COUNT_HEADER = "x-retry-count"
LAST_ERROR_HEADER = "x-last-error"
ORIGINAL_ROUTING_KEY_HEADER = "x-original-routing-key"


def retry_count(message: AbstractMessage) -> int:
    """How many retries the message has used: its ``x-retry-count`` header, 0 without one."""
    value = (message.headers or {}).get(RETRY_COUNT_HEADER)
    # The header is an AMQP field value: the int this module wrote, or a number spelt out by
    # whoever published the message by hand.
    if isinstance(value, int | float | str | bytes) and value:
        return int(value)
    return 0


@dataclass
class Consumer:
    """A named consumer: its queue name and one handler per event type."""

    name: str
    handlers: dict[str, Handler] = field(default_factory=dict)
    # Up to this many waiting deliveries are handled in one transaction; 1: one per event.
    batch_size: int = 1
    flush: Flush | None = None
    # With ``batch_size`` > 1: a batch that got a free slot waits up to this many seconds
    # for more deliveries before it runs (until it is full). Events arriving steadily but
    # not quite together then share a transaction; the price is that much latency.
    linger: float = 0.0

    def on(self, event_type: str) -> Callable[[Handler], Handler]:
        if event_type not in CATALOGUE:
            raise ValueError(f"unknown event type {event_type!r}: add it to the catalogue")

        def register(handler: Handler) -> Handler:
            self.handlers[event_type] = handler
            return handler

        return register


class PoisonMessage(Exception):
    """A message that can never succeed (undecodable, unknown shape): park it at once."""


def decode(message: AbstractIncomingMessage) -> tuple[EventEnvelope, EventPayload]:
    try:
        envelope = EventEnvelope.model_validate_json(message.body)
        return envelope, parse_payload(envelope)
    except (ValidationError, KeyError, ValueError) as exc:
        raise PoisonMessage(f"undecodable event: {exc}") from exc


# The inbox row of one event: a statement text, not a construct whose cache key SQLAlchemy
# would compute again for every event.
_INBOX = sa.text(
    f"INSERT INTO {inbox_table.name} (consumer, event_id, event_type)"
    " VALUES (:consumer, :event_id, :type) ON CONFLICT DO NOTHING RETURNING event_id"
).bindparams(sa.bindparam("event_id", type_=pg.UUID(as_uuid=True)))


async def handle_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    consumer: str,
    handler: Handler,
    envelope: EventEnvelope,
    payload: EventPayload,
    *,
    flush: Flush | None = None,
) -> bool:
    """Run the handler unless this consumer already processed the event; True if it ran."""
    async with sessionmaker() as session, session.begin():
        claimed = await session.execute(
            _INBOX,
            {"consumer": consumer, "event_id": envelope.event_id, "type": envelope.event_type},
        )
        if claimed.first() is None:
            return False
        await handler(session, envelope, payload)
        if flush is not None:
            await flush(session)
    return True


# All inbox rows of a batch in one statement whose text does not depend on the batch's size
# (a multi-row VALUES would be compiled again for every size).
_BATCH_INBOX = sa.text(
    f"INSERT INTO {inbox_table.name} (consumer, event_id, event_type)"
    " SELECT :consumer, e.event_id, e.event_type"
    " FROM unnest(:event_ids, :event_types) AS e (event_id, event_type)"
    " ON CONFLICT DO NOTHING RETURNING event_id"
).bindparams(
    sa.bindparam("event_ids", type_=pg.ARRAY(pg.UUID(as_uuid=True))),
    sa.bindparam("event_types", type_=pg.ARRAY(sa.Text())),
)


async def handle_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    consumer: str,
    events: Sequence[tuple[Handler, EventEnvelope, EventPayload]],
    *,
    flush: Flush | None = None,
) -> list[bool]:
    """Run the handlers of several events in one transaction, skipping events this consumer
    already processed (or that occur twice in ``events``); for each event, True if it ran."""
    async with sessionmaker() as session, session.begin():
        claimed = await session.execute(
            _BATCH_INBOX,
            {
                "consumer": consumer,
                "event_ids": [envelope.event_id for _, envelope, _ in events],
                "event_types": [envelope.event_type for _, envelope, _ in events],
            },
        )
        new = {row[0] for row in claimed}
        ran: list[bool] = []
        for handler, envelope, payload in events:
            if envelope.event_id not in new:
                ran.append(False)
                continue
            new.discard(envelope.event_id)  # a second copy in the same batch is a duplicate
            token = set_correlation_id(envelope.correlation_id)
            try:
                await handler(session, envelope, payload)
            finally:
                reset_correlation_id(token)
            ran.append(True)
        if flush is not None and any(ran):
            await flush(session)
    return ran


class _Batcher:
    """Groups deliveries that arrive while earlier batches are being handled.

    aio-pika runs the callback of every delivery as a task of its own. The first delivery
    to find no open batch opens one and waits for a free slot (``concurrency`` batches at
    most are handled at once) and one more event-loop round, or up to ``linger`` seconds
    unless the batch fills; deliveries arriving meanwhile join it, up to ``size``. So
    batches stay small while the consumer keeps up and grow when it falls behind.
    """

    def __init__(
        self,
        run: Callable[[list[AbstractIncomingMessage]], Awaitable[None]],
        *,
        size: int,
        concurrency: int,
        linger: float = 0.0,
    ) -> None:
        self._run = run
        self._size = size
        self._linger = linger
        self._slots = asyncio.Semaphore(concurrency)
        self._open: list[AbstractIncomingMessage] | None = None
        self._filled = asyncio.Event()  # the open batch is full: stop lingering

    async def add(self, message: AbstractIncomingMessage) -> None:
        if self._open is not None and len(self._open) < self._size:
            self._open.append(message)
            if len(self._open) == self._size:
                self._filled.set()
            return  # the task that opened the batch handles (and acknowledges) it
        batch = [message]
        self._open = batch
        self._filled = asyncio.Event()
        try:
            async with self._slots:
                await self._gather(batch)
                if self._open is batch:
                    self._open = None
                await self._run(batch)
        finally:
            if self._open is batch:
                self._open = None

    async def _gather(self, batch: list[AbstractIncomingMessage]) -> None:
        """Let the deliveries already arriving (and, lingering, those soon to) join."""
        await asyncio.sleep(0)
        if self._linger > 0 and self._open is batch and len(batch) < self._size:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._filled.wait(), self._linger)


class _Acks:
    """Acknowledges a handled batch with one ``basic.ack`` (``multiple``) when that is safe.

    A frame per delivery cost about as much CPU as handling the whole batch (a socket write
    each). ``multiple`` acknowledges every delivery of the channel up to the given tag, so it
    is sent only when every earlier delivery is already settled or in this batch: with
    several batches (or a failing event) in flight, the others are acknowledged one by one.
    A channel's delivery tags are consecutive from 1 (one consumer per channel here), so
    ``floor`` (every tag up to it settled) and the settled tags above it say which are done.
    A new channel (after a reconnect) starts afresh; an old channel's deliveries are
    acknowledged one by one (and fail: the broker delivers them again, the inbox dedupes).
    """

    def __init__(self) -> None:
        self._channel: object | None = None
        self._floor = 0
        self._above: set[int] = set()

    def _current(self, message: AbstractIncomingMessage) -> bool:
        """Whether the delivery came on the channel consuming now (a new one: start afresh)."""
        try:
            channel = message.channel
        except aio_pika.exceptions.ChannelInvalidStateError:
            return False  # closed: delivered again on the next channel
        if channel is not self._channel:
            self._channel, self._floor, self._above = channel, 0, set()
        return True

    def settled(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        """These deliveries were acknowledged or rejected (each by itself)."""
        for message in messages:
            if message.delivery_tag is not None and self._current(message):
                self._above.add(message.delivery_tag)
        while self._floor + 1 in self._above:
            self._floor += 1
            self._above.discard(self._floor)

    async def ack(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        """Acknowledge these handled deliveries: one frame if safe, else one each."""
        tags = {m.delivery_tag for m in messages if m.delivery_tag and self._current(m)}
        last = max(messages, key=lambda m: m.delivery_tag or 0)
        if len(messages) > 1 and len(tags) == len(messages) and last.delivery_tag is not None:
            waiting = range(self._floor + 1, last.delivery_tag + 1)
            if all(tag in tags or tag in self._above for tag in waiting):
                self.settled(messages)  # before the await: no other batch sees them pending
                try:
                    await last.ack(multiple=True)
                except Exception as exc:
                    log.warning("could not acknowledge up to %s: %r", last.message_id, exc)
                return
        for message in messages:
            try:
                await message.ack()
            except Exception as exc:
                # Redelivered later; the inbox makes that harmless.
                log.warning("could not acknowledge %s: %r", message.message_id, exc)
            finally:
                self.settled([message])


async def _forward(
    channel: AbstractChannel,
    message: AbstractIncomingMessage,
    *,
    routing_key: str,
    headers: dict[str, Any],
) -> None:
    copy = aio_pika.Message(
        body=message.body,
        headers={**(message.headers or {}), **headers},
        message_id=message.message_id,
        type=message.type,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        timestamp=message.timestamp,
        app_id=message.app_id,
    )
    await channel.default_exchange.publish(copy, routing_key=routing_key, timeout=10)


async def _on_failure(
    channel: AbstractChannel,
    settings: ServiceSettings,
    queue: str,
    message: AbstractIncomingMessage,
    error: BaseException,
    *,
    poison: bool,
) -> None:
    event_type = message.type or message.routing_key or "unknown"
    attempt = retry_count(message)
    error_text = f"{type(error).__name__}: {error}"[:1000]
    headers = {
        RETRY_COUNT_HEADER: attempt + 1,
        LAST_ERROR_HEADER: error_text,
        ORIGINAL_ROUTING_KEY_HEADER: (message.headers or {}).get(
            ORIGINAL_ROUTING_KEY_HEADER, message.routing_key
        ),
    }
    EVENTS_FAILED.labels(queue, event_type).inc()
    if not poison and attempt < len(settings.retry_delays):
        delay = settings.retry_delays[attempt]
        log.warning(
            "event %s (%s) failed, retry %d in %.1fs: %s",
            message.message_id,
            event_type,
            attempt + 1,
            delay,
            error_text,
        )
        await _forward(
            channel, message, routing_key=retry_queue_name(queue, delay), headers=headers
        )
    else:
        log.error(
            "event %s (%s) parked in dead-letter queue: %s",
            message.message_id,
            event_type,
            error_text,
        )
        await _forward(channel, message, routing_key=dead_letter_queue_name(queue), headers=headers)
        EVENTS_DEAD_LETTERED.labels(queue, event_type).inc()


async def start_consumer(
    bus: Bus,
    consumer: Consumer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Declare the consumer's topology and start consuming (restored on reconnect)."""
    settings = bus.settings
    subscribed = SUBSCRIPTIONS.get(consumer.name)
    if subscribed is not None and set(subscribed) != set(consumer.handlers):
        # Producers declare this queue from SUBSCRIPTIONS: the two must agree.
        raise ValueError(
            f"consumer {consumer.name!r} handles {sorted(consumer.handlers)}, but "
            f"contracts.subscriptions lists {sorted(subscribed)}"
        )
    queue_name = settings.queue_name(consumer.name)
    channel = await bus.channel(prefetch=settings.consumer_prefetch)
    queue = await declare_consumer_queues(
        channel, settings, queue=queue_name, event_types=sorted(consumer.handlers)
    )

    async def on_message(
        message: AbstractIncomingMessage,
        decoded: tuple[EventEnvelope, EventPayload] | None = None,
    ) -> None:
        token = None
        try:
            envelope, payload = decoded or decode(message)
            token = set_correlation_id(envelope.correlation_id)
            handler = consumer.handlers.get(envelope.event_type)
            if handler is None:
                outcome = "ignored"
            else:
                ran = await handle_once(
                    sessionmaker, queue_name, handler, envelope, payload, flush=consumer.flush
                )
                outcome = "processed" if ran else "duplicate"
            EVENTS_CONSUMED.labels(queue_name, envelope.event_type, outcome).inc()
            await message.ack()
        except Exception as exc:
            try:
                await _on_failure(
                    channel,
                    settings,
                    queue_name,
                    message,
                    exc,
                    poison=isinstance(exc, PoisonMessage),
                )
                await message.ack()
            except Exception:
                # Could not hand the message on: let the broker deliver it again.
                log.exception("could not forward failed message %s", message.message_id)
                await message.nack(requeue=True)
        finally:
            if token is not None:
                reset_correlation_id(token)

    acks = _Acks()

    async def on_batch(messages: list[AbstractIncomingMessage]) -> None:
        events: list[tuple[AbstractIncomingMessage, Handler, EventEnvelope, EventPayload]] = []
        # Handled one by one, with what was already decoded (None: parked as poison there).
        alone: list[tuple[AbstractIncomingMessage, tuple[EventEnvelope, EventPayload] | None]] = []
        for message in messages:
            try:
                envelope, payload = decode(message)
            except PoisonMessage:
                alone.append((message, None))
                continue
            handler = consumer.handlers.get(envelope.event_type)
            if handler is None:
                alone.append((message, (envelope, payload)))  # acknowledged as ignored
            else:
                events.append((message, handler, envelope, payload))
        if len(events) == 1:
            message, _, envelope, payload = events.pop()
            alone.append((message, (envelope, payload)))
        if events:
            try:
                ran = await handle_batch(
                    sessionmaker,
                    queue_name,
                    [(h, e, p) for _, h, e, p in events],
                    flush=consumer.flush,
                )
            except Exception as exc:
                log.warning(
                    "a batch of %d events failed, handling them one by one: %r", len(events), exc
                )
                alone.extend((message, (envelope, pay)) for message, _, envelope, pay in events)
            else:
                for (_, _, envelope, _), processed in zip(events, ran, strict=True):
                    outcome = "processed" if processed else "duplicate"
                    EVENTS_CONSUMED.labels(queue_name, envelope.event_type, outcome).inc()
                await acks.ack([message for message, _, _, _ in events])
        for message, decoded in alone:
            try:
                await on_message(message, decoded)
            finally:
                acks.settled([message])

    if consumer.batch_size > 1:
        batcher = _Batcher(
            on_batch,
            size=consumer.batch_size,
            concurrency=max(1, settings.consumer_prefetch // consumer.batch_size),
            linger=consumer.linger,
        )
        await queue.consume(batcher.add)
    else:
        await queue.consume(on_message)
    log.info("consuming %s (%s)", queue_name, ", ".join(sorted(consumer.handlers)))
