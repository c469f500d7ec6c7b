"""The local copy of the tickets from ``ticket.*`` events: handled in batches (one statement
per batch), each ticket's newest version winning whatever the order, duplicates harmless,
and a failing event retried and parked alone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from attachments.tickets.consumer import CONSUMER, tickets_consumer
from attachments.tickets.models import KnownTicket
from helpdesk_common.bus import Bus
from helpdesk_common.consumer import handle_batch
from helpdesk_common.contracts import EventEnvelope, parse_payload
from helpdesk_common.contracts.tickets import (
    Actor,
    TicketAssigned,
    TicketCreated,
    TicketEvent,
    TicketSnapshot,
    TicketStatus,
    TicketStatusChanged,
)
from helpdesk_common.dead_letters import peek_dead_letters
from helpdesk_common.outbox import inbox_table
from helpdesk_testing import eventually
from helpdesk_testing.s3 import S3Server

from .conftest import World, running_attachments

ACTOR = Actor(user_id=uuid.uuid4(), name="Agen Satu", role="agent")


@pytest.fixture(scope="module")
async def world(
    make_settings: Callable[..., Any], make_token: Callable[..., str], s3: S3Server
) -> AsyncIterator[World]:
    async with running_attachments(make_settings, make_token, s3, None) as started:
        yield started


def snapshot(
    ticket_id: uuid.UUID, version: int, status: TicketStatus = "new", **values: Any
) -> TicketSnapshot:
    return TicketSnapshot(
        ticket_id=ticket_id,
        number=values.pop("number", f"TKT-{ticket_id.hex[:6]}"),
        title=values.pop("title", f"Jaringan putus v{version}"),
        status=status,
        priority="medium",
        unit_id=values.pop("unit_id", uuid.UUID(int=1)),
        created_at=datetime(2026, 12, 1, 2, tzinfo=UTC),
        version=version,
        **values,
    )


def history(ticket_id: uuid.UUID, *, title: str = "Jaringan putus") -> list[EventEnvelope]:
    """created (v1), assigned (v2), in progress (v3): the events of one ticket, in order."""
    agent = uuid.uuid4()
    events: list[TicketEvent] = [
        TicketCreated(ticket=snapshot(ticket_id, 1, title=title), actor=ACTOR),
        TicketAssigned(
            ticket=snapshot(ticket_id, 2, title=title, assignee_id=agent),
            actor=ACTOR,
            assignee_id=agent,
            assignee_name="Agen Satu",
        ),
        TicketStatusChanged(
            ticket=snapshot(ticket_id, 3, "in_progress", title=title, assignee_id=agent),
            actor=ACTOR,
            from_status="new",
            to_status="in_progress",
        ),
    ]
    return [EventEnvelope.wrap(event, producer="tickets") for event in events]


async def copy_of(world: World, ticket_id: uuid.UUID) -> KnownTicket | None:
    async with world.app.state.runtime.sessionmaker() as session:
        return await session.get(KnownTicket, ticket_id)


async def test_one_batch_keeps_each_tickets_newest_version_whatever_the_order(
    world: World,
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    a, b = history(first), history(second)
    # Newest first, the oldest last, the newest twice, and two tickets interleaved.
    envelopes = [a[2], b[1], a[0], b[2], a[1], a[2], b[0]]
    consumer = tickets_consumer(batch_size=16)
    ran = await handle_batch(
        world.app.state.runtime.sessionmaker,
        world.settings.queue_name(CONSUMER),
        [(consumer.handlers[e.event_type], e, parse_payload(e)) for e in envelopes],
        flush=consumer.flush,
    )
    assert ran == [True, True, True, True, True, False, True]  # the repeat ran once
    for ticket_id, events in ((first, a), (second, b)):
        kept = await copy_of(world, ticket_id)
        assert kept is not None
        newest = TicketEvent.model_validate(events[2].payload).ticket
        assert (kept.version, kept.status, kept.assignee_id) == (
            3,
            "in_progress",
            newest.assignee_id,
        )

    # A later batch with only older snapshots changes nothing.
    stale = history(first, title="Judul lama")[:2]
    await handle_batch(
        world.app.state.runtime.sessionmaker,
        world.settings.queue_name(CONSUMER),
        [(consumer.handlers[e.event_type], e, parse_payload(e)) for e in stale],
        flush=consumer.flush,
    )
    kept = await copy_of(world, first)
    assert kept is not None and (kept.version, kept.title) == (3, "Jaringan putus")


async def publish(bus: Bus, envelope: EventEnvelope) -> None:
    await bus.publish(str(envelope.event_id), envelope.event_type, envelope.model_dump_json())


async def test_events_from_the_broker_out_of_order_and_twice(world: World) -> None:
    tickets = [uuid.uuid4() for _ in range(10)]
    histories = [history(ticket_id) for ticket_id in tickets]
    # Every ticket's events newest first, each sent twice: many share a batch.
    envelopes = [e for events in histories for e in reversed(events)]
    bus = Bus(world.settings)
    await bus.connect()
    try:
        for envelope in [*envelopes, *envelopes]:
            await publish(bus, envelope)

        async def all_handled() -> bool:
            async with world.app.state.runtime.sessionmaker() as session:
                handled = await session.scalar(
                    sa.select(sa.func.count())
                    .select_from(inbox_table)
                    .where(inbox_table.c.event_id.in_([e.event_id for e in envelopes]))
                )
            return handled == len(envelopes)

        await eventually(all_handled, timeout=15)
    finally:
        await bus.close()
    for ticket_id in tickets:
        kept = await copy_of(world, ticket_id)
        assert kept is not None and (kept.version, kept.status) == (3, "in_progress")


async def test_a_snapshot_the_database_refuses_is_parked_alone(world: World) -> None:
    """A NUL character cannot be stored in a text column: the batch holding it fails, its
    events are handled one by one, and only that event is retried and then parked."""
    good = [uuid.uuid4() for _ in range(6)]
    bad = uuid.uuid4()
    envelopes = [h[0] for h in map(history, good[:3])]
    envelopes.append(history(bad, title="rusak\x00")[0])
    envelopes += [h[0] for h in map(history, good[3:])]
    bus = Bus(world.settings)
    await bus.connect()
    try:
        for envelope in envelopes:
            await publish(bus, envelope)
        queue = world.settings.queue_name(CONSUMER)
        letters = await eventually(lambda: peek_dead_letters(bus, queue), timeout=15)
    finally:
        await bus.close()
    assert [letter.message_id for letter in letters] == [str(envelopes[3].event_id)]
    assert letters[0].retries == len(world.settings.retry_delays) + 1  # tries, then parked
    assert await copy_of(world, bad) is None
    for ticket_id in good:
        kept = await copy_of(world, ticket_id)
        assert kept is not None and kept.version == 1
