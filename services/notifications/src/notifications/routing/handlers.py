"""Ticket events become queued e-mails and in-app notifications, in the inbox transaction.

Nothing is sent here: the handler only writes rows, so it is fast, it is undone with the
inbox row if anything fails, and a redelivered event (already in the inbox) adds nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.tickets import TicketEvent
from notifications.email.digest import add_digest_items
from notifications.email.rendering import Renderer
from notifications.email.service import Handoff, enqueue_deliveries
from notifications.inapp.service import add_notifications
from notifications.routing.recipients import PREFERENCE_OF_EVENT, Recipient, plan_recipients
from notifications.settings import NotificationsSettings

# The template (``templates/<lang>/<kind>.*``) of each ticket event: named like the
# preference it is chosen by.
KIND_BY_EVENT = {
    event: kind for event, kind in PREFERENCE_OF_EVENT.items() if event.startswith("ticket.")
}

NOTIFICATIONS_PLANNED = Counter(
    "notifications_planned_total",
    "Notifications created from events, by event type and channel",
    ["event_type", "channel"],
)


def ticket_link(settings: NotificationsSettings, ticket_id: object) -> str:
    return f"{settings.web_base_url.rstrip('/')}/#/tickets/{ticket_id}"


async def notify_ticket_event(
    session: AsyncSession,
    *,
    envelope: EventEnvelope,
    payload: TicketEvent,
    settings: NotificationsSettings,
    renderer: Renderer,
    handoff: Handoff | None = None,
) -> None:
    recipients = await plan_recipients(
        session, payload=payload, settings=settings, at=envelope.occurred_at
    )
    if not recipients:
        return
    ticket = payload.ticket
    await queue_notifications(
        session,
        envelope=envelope,
        recipients=recipients,
        kind=KIND_BY_EVENT[envelope.event_type],
        context={"ticket": ticket, "event": payload, "actor": payload.actor},
        ticket_id=ticket.ticket_id,
        ticket_number=ticket.number,
        settings=settings,
        renderer=renderer,
        handoff=handoff,
    )


async def queue_notifications(
    session: AsyncSession,
    *,
    envelope: EventEnvelope,
    recipients: list[Recipient],
    kind: str,
    context: dict[str, Any],
    ticket_id: uuid.UUID,
    ticket_number: str | None,
    settings: NotificationsSettings,
    renderer: Renderer,
    handoff: Handoff | None = None,
) -> None:
    """Render ``kind`` for each recipient (in their language) and queue its mail (or its line
    in their daily digest) and in-app notice, all pointing at the ticket."""
    link = ticket_link(settings, ticket_id)
    deliveries: list[dict[str, Any]] = []
    digest: list[dict[str, Any]] = []
    in_app: list[dict[str, Any]] = []
    for recipient in recipients:
        rendered = renderer.render(
            kind,
            language=recipient.language,
            context={
                **context,
                "brand": settings.brand_name,
                "recipient": recipient,
                "link": link,
            },
        )
        if recipient.email is not None and recipient.email_mode == "digest":
            assert recipient.user_id is not None  # only users choose a digest
            digest.append(
                {
                    "user_id": recipient.user_id,
                    "event_id": envelope.event_id,
                    "event_type": envelope.event_type,
                    "ticket_id": ticket_id,
                    "ticket_number": ticket_number,
                    "title": rendered.subject,
                    "summary": rendered.summary,
                    "link": link,
                }
            )
        elif recipient.email is not None:
            deliveries.append(
                {
                    "event_id": envelope.event_id,
                    "event_type": envelope.event_type,
                    "ticket_id": ticket_id,
                    "ticket_number": ticket_number,
                    "recipient": recipient.email,
                    "recipient_name": recipient.name or None,
                    "user_id": recipient.user_id,
                    "language": rendered.language,
                    "subject": rendered.subject,
                    "body_text": rendered.text,
                    "body_html": rendered.html,
                }
            )
        if recipient.user_id is not None and recipient.in_app:
            in_app.append(
                {
                    "user_id": recipient.user_id,
                    "event_id": envelope.event_id,
                    "event_type": envelope.event_type,
                    "ticket_id": ticket_id,
                    "ticket_number": ticket_number,
                    "title": rendered.subject,
                    "body": rendered.summary,
                    "link": link,
                    "created_at": envelope.occurred_at,
                    "addressed": recipient.addressed,
                }
            )
    await enqueue_deliveries(session, rows=deliveries, handoff=handoff)
    await add_digest_items(session, rows=digest)
    await add_notifications(session, rows=in_app)
    NOTIFICATIONS_PLANNED.labels(envelope.event_type, "email").inc(len(deliveries))
    NOTIFICATIONS_PLANNED.labels(envelope.event_type, "digest").inc(len(digest))
    NOTIFICATIONS_PLANNED.labels(envelope.event_type, "in_app").inc(len(in_app))
