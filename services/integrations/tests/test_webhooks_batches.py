"""The webhooks consumer in batches: the events of a batch become their deliveries in one
statement (the webhooks read once), in the events' order, each event once per webhook; an
event no webhook wants adds nothing; a disabled webhook gets none."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from helpdesk_common.consumer import handle_batch
from helpdesk_common.contracts import EventEnvelope, parse_payload
from helpdesk_common.contracts.tickets import TicketAssigned, TicketCreated
from integrations.webhooks.consumer import CONSUMER_NAME, webhooks_consumer
from integrations.webhooks.models import WebhookDelivery

from .conftest import World
from .test_webhooks_delivery import comment, delivering, register, ticket_event


async def recorded(world: World) -> list[tuple[str, str, str]]:
    """(webhook, event, type) of every delivery, in the order the sender goes by (seq)."""
    async with world.runtime.sessionmaker() as session:
        rows = await session.execute(
            sa.select(
                WebhookDelivery.webhook_id, WebhookDelivery.event_id, WebhookDelivery.event_type
            ).order_by(WebhookDelivery.seq)
        )
        return [(str(w), str(e), t) for w, e, t in rows]


async def test_a_batch_records_each_events_deliveries_once_in_order(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    # The sender may send them meanwhile: their rows stay (sent or not).
    async with delivering(make_settings, make_token) as (world, server, admin):
        created_only = await register(world, admin, server.url, event_types=("ticket.created",))
        both = await register(world, admin, server.url)  # created and commented
        disabled = await register(world, admin, server.url)
        switched = await world.client.patch(
            f"/webhooks/{disabled}", json={"is_active": False}, headers=admin
        )
        assert switched.status_code == 200, switched.text

        first, second = uuid.uuid4(), uuid.uuid4()
        agent = uuid.uuid4()
        events = [
            EventEnvelope.wrap(payload, producer="tickets")
            for payload in (
                ticket_event(first),
                comment(first, "sudah dicek"),
                # Nobody wants assignments.
                ticket_event(second, TicketAssigned, assignee_id=agent, assignee_name="Agen"),
                ticket_event(second),
            )
        ]
        batch = [*events, events[0]]  # the first event twice
        consumer = webhooks_consumer(settle_seconds=0)
        ran = await handle_batch(
            world.runtime.sessionmaker,
            world.settings.queue_name(CONSUMER_NAME),
            [(consumer.handlers[e.event_type], e, parse_payload(e)) for e in batch],
            flush=consumer.flush,
        )
        assert ran == [True, True, True, True, False]

        created, commented, _, created_second = (str(e.event_id) for e in events)
        assert await recorded(world) == [
            (created_only, created, TicketCreated.event_type),
            (both, created, TicketCreated.event_type),
            (both, commented, "ticket.commented"),
            (created_only, created_second, TicketCreated.event_type),
            (both, created_second, TicketCreated.event_type),
        ]

        # The same events again (a replica that handled them too): nothing more.
        again = [EventEnvelope.model_validate(e.model_dump()) for e in events]
        await handle_batch(
            world.runtime.sessionmaker,
            "another-consumer",  # its own inbox: the handlers run again
            [(consumer.handlers[e.event_type], e, parse_payload(e)) for e in again],
            flush=consumer.flush,
        )
        assert len(await recorded(world)) == 5


async def test_events_no_webhook_wants_add_nothing(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    async with delivering(make_settings, make_token) as (world, _, _):
        consumer = webhooks_consumer(settle_seconds=0)
        events = [
            EventEnvelope.wrap(ticket_event(uuid.uuid4()), producer="tickets") for _ in range(5)
        ]
        ran = await handle_batch(
            world.runtime.sessionmaker,
            world.settings.queue_name(CONSUMER_NAME),
            [(consumer.handlers[e.event_type], e, parse_payload(e)) for e in events],
            flush=consumer.flush,
        )
        assert ran == [True] * 5
        assert await recorded(world) == []
