"""A new file on a ticket (``attachment.added``) becomes a queued e-mail and an in-app
notice for the ticket's assignee, in the inbox transaction (see ``routing.handlers``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.attachments import AttachmentAdded
from notifications.email.rendering import Renderer
from notifications.email.service import Handoff
from notifications.routing.handlers import Rows
from notifications.routing.recipients import plan_attachment_recipients
from notifications.settings import NotificationsSettings

EVENT_TYPE = AttachmentAdded.event_type
TEMPLATE = "attachment_added"


async def notify_attachment_added(
    session: AsyncSession,
    *,
    envelope: EventEnvelope,
    payload: AttachmentAdded,
    settings: NotificationsSettings,
    renderer: Renderer,
    handoff: Handoff | None = None,
) -> None:
    recipients = await plan_attachment_recipients(session, payload=payload, settings=settings)
    if not recipients:
        return
    rows = Rows()
    rows.add(
        envelope=envelope,
        recipients=recipients,
        kind=TEMPLATE,
        # The event's ticket is a short one (no priority, unit name, ...): the layout's
        # ticket table stays out ("ticket": None) and the template lists what it has.
        context={
            "ticket": None,
            "event": payload,
            "attachment": payload.attachment,
            "actor": payload.actor,
        },
        ticket_id=payload.ticket.ticket_id,
        ticket_number=payload.ticket.number,
        settings=settings,
        renderer=renderer,
    )
    await rows.write(session, handoff=handoff)
