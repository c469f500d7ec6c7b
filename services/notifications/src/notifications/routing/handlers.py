"""Ticket events become queued e-mails and in-app notifications, in the inbox transaction.

Nothing is sent here: the handler only writes rows, so it is fast, it is undone with the
inbox row if anything fails, and a redelivered event (already in the inbox) adds nothing.

The consumer handles the events that wait together, in one transaction
(helpdesk_common.consumer); a ticket event is only noted by its handler and planned with the
others of the transaction in its flush: their recipients read in a few statements for all
of them, their mails, digest lines and in-app notices written in one statement per table.
Should the batch fail, the consumer handles its events one by one, each with its own flush.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import prometheus_client
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.context import reset_correlation_id, set_correlation_id
from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.tickets import TicketEvent
from notifications.email.digest import add_digest_items
from notifications.email.rendering import Renderer
from notifications.email.service import Handoff, delivery_row, enqueue_deliveries
from notifications.inapp.service import add_notifications
from notifications.routing.recipients import PREFERENCE_OF_EVENT, Recipient, plan_recipients_of
from notifications.settings import NotificationsSettings

# The template (``templates/<lang>/<kind>.*``) of each ticket event: named like the
# preference it is chosen by.
KIND_BY_EVENT = {
    event: kind for event, kind in PREFERENCE_OF_EVENT.items() if event.startswith("ticket.")
}

NOTIFICATIONS_PLANNED = prometheus_client.Counter(
    "notifications_planned_total",
    "Notifications created from events, by event type and channel",
    ["event_type", "channel"],
)


def ticket_link(settings: NotificationsSettings, ticket_id: object) -> str:
    return f"{settings.web_base_url.rstrip('/')}/#/tickets/{ticket_id}"


# The ticket events of the consumer's transaction, planned together in its flush.
_PENDING = "notifications.ticket_events"


async def notify_ticket_event(
    session: AsyncSession,
    *,
    envelope: EventEnvelope,
    payload: TicketEvent,
    settings: NotificationsSettings,
    renderer: Renderer,
    handoff: Handoff | None = None,
) -> None:
    """Note the event: :func:`flush_ticket_events`, at the end of the consumer's transaction
    (one event or a batch), plans it with the others (their recipients read together, their
    rows written in one statement per table)."""
    session.info.setdefault(_PENDING, []).append((envelope, payload))


async def flush_ticket_events(
    session: AsyncSession,
    *,
    settings: NotificationsSettings,
    renderer: Renderer,
    handoff: Handoff | None = None,
) -> None:
    """Queue the mails, digest lines and in-app notices of the ticket events noted in this
    transaction (:func:`notify_ticket_event`)."""
    pending: list[tuple[EventEnvelope, TicketEvent]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    planned = await plan_recipients_of(
        session,
        events=[(payload, envelope.occurred_at) for envelope, payload in pending],
        settings=settings,
    )
    rows = Rows()
    for (envelope, payload), recipients in zip(pending, planned, strict=True):
        if not recipients:
            continue
        ticket = payload.ticket
        token = set_correlation_id(envelope.correlation_id)  # for the rendering's logs
        try:
            rows.add(
                envelope=envelope,
                recipients=recipients,
                kind=KIND_BY_EVENT[envelope.event_type],
                context={"ticket": ticket, "event": payload, "actor": payload.actor},
                ticket_id=ticket.ticket_id,
                ticket_number=ticket.number,
                settings=settings,
                renderer=renderer,
            )
        finally:
            reset_correlation_id(token)
    await rows.write(session, handoff=handoff)


@dataclass
class Rows:
    """The rows some events' notifications become, written in one statement per table."""

    deliveries: list[dict[str, Any]] = field(default_factory=list)
    digest: list[dict[str, Any]] = field(default_factory=list)
    in_app: list[dict[str, Any]] = field(default_factory=list)
    # How many of each (event type, channel), for the metric.
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(
        self,
        *,
        envelope: EventEnvelope,
        recipients: list[Recipient],
        kind: str,
        context: dict[str, Any],
        ticket_id: uuid.UUID,
        ticket_number: str | None,
        settings: NotificationsSettings,
        renderer: Renderer,
    ) -> None:
        """Render ``kind`` for each recipient (in their language) and add its mail (or its
        line in their daily digest) and in-app notice, all pointing at the ticket."""
        link = ticket_link(settings, ticket_id)
        shared = {"brand": settings.brand_name, "link": link}
        rendered_each = renderer.render_each(
            kind, recipients=recipients, context={**context, **shared}
        )
        event_id, event_type = envelope.event_id, envelope.event_type
        for recipient, rendered in zip(recipients, rendered_each, strict=True):
            if recipient.email is not None and recipient.email_mode == "digest":
                assert recipient.user_id is not None  # only users choose a digest
                self.digest.append(
                    {
                        "user_id": recipient.user_id,
                        "event_id": event_id,
                        "event_type": event_type,
                        "ticket_id": ticket_id,
                        "ticket_number": ticket_number,
                        "title": rendered.subject,
                        "summary": rendered.summary,
                        "link": link,
                    }
                )
                self.counts[event_type, "digest"] += 1
            elif recipient.email is not None:
                self.deliveries.append(
                    delivery_row(
                        envelope,
                        recipient=recipient.email,
                        recipient_name=recipient.name or None,
                        user_id=recipient.user_id,
                        rendered=rendered,
                        ticket_id=ticket_id,
                        ticket_number=ticket_number,
                    )
                )
                self.counts[event_type, "email"] += 1
            if recipient.user_id is not None and recipient.in_app:
                self.in_app.append(
                    {
                        "user_id": recipient.user_id,
                        "event_id": event_id,
                        "event_type": event_type,
                        "ticket_id": ticket_id,
                        "ticket_number": ticket_number,
                        "title": rendered.subject,
                        "body": rendered.summary,
                        "link": link,
                        "created_at": envelope.occurred_at,
                        "addressed": recipient.addressed,
                    }
                )
                self.counts[event_type, "in_app"] += 1

    async def write(self, session: AsyncSession, *, handoff: Handoff | None = None) -> None:
        # Each insert skips a row its unique key already holds (event and address, event and
        # user): a redelivered event queues nothing twice.
        await enqueue_deliveries(session, rows=self.deliveries, handoff=handoff)
        await add_digest_items(session, rows=self.digest)
        await add_notifications(session, rows=self.in_app)
        for (event_type, channel), count in self.counts.items():
            NOTIFICATIONS_PLANNED.labels(event_type, channel).inc(count)
