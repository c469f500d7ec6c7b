"""The integrations service's events (issue 14):

- ``intake.sender_refused``: a mail from an address that belongs to no user reached a
  mailbox that answers such senders once. One mail to that address (not a user: no in-app
  notice, no preferences), in Bahasa Indonesia with English below (or English first when
  the event says ``language: en``), ``Re: <subject>`` threaded under the refused mail
  (In-Reply-To / References), saying that only registered addresses open requests by mail
  and how to get an account or reach the IT desk. The delivery is unique per event and
  address (and the inbox makes the event handled once): a redelivered event mails nobody
  twice.
- ``webhook.disabled``: an outbound webhook that kept failing was switched off. Every
  active administrator gets an in-app notice and a mail, each as their preferences for
  ``webhook_disabled`` say (at once, in the daily digest, or not), in their language.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.integrations import IntakeSenderRefused, WebhookDisabled
from helpdesk_common.directory import active_users, organisation
from notifications.email.digest import add_digest_items
from notifications.email.rendering import Renderer
from notifications.email.service import Handoff, enqueue_deliveries
from notifications.inapp.service import add_notifications
from notifications.preferences.service import DEFAULT_CHOICE, choices_for
from notifications.routing.handlers import NOTIFICATIONS_PLANNED
from notifications.routing.recipients import Recipient
from notifications.settings import NotificationsSettings

log = logging.getLogger("notifications.intake")

SENDER_REFUSED = IntakeSenderRefused.event_type
WEBHOOK_DISABLED = WebhookDisabled.event_type
# The preference (and template) name of ``webhook.disabled``.
WEBHOOK_DISABLED_KIND = "webhook_disabled"
# An address mail can go to: no spaces or line breaks, one @, a domain.
_ADDRESS = re.compile(r"[^\s@<>\"]+@[^\s@<>\"]+")
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|balas)\s*:", re.IGNORECASE)


def reply_subject(subject: str) -> str:
    """``Re: <subject>`` (once: a subject that is already a reply keeps its prefix)."""
    cleaned = " ".join(subject.split()) or "(tanpa subjek)"
    return cleaned if _REPLY_PREFIX.match(cleaned) else f"Re: {cleaned}"


async def notify_sender_refused(
    session: AsyncSession,
    *,
    envelope: EventEnvelope,
    payload: IntakeSenderRefused,
    settings: NotificationsSettings,
    renderer: Renderer,
    handoff: Handoff | None = None,
) -> None:
    address = payload.address.strip().lower()
    if not _ADDRESS.fullmatch(address):
        # Nothing can be sent there; retrying would not change it.
        log.warning("intake.sender_refused %s: no address to answer", envelope.event_id)
        return
    name = " ".join((payload.display_name or "").split()) or address
    rendered = renderer.render(
        "sender_refused",
        language=payload.language,
        context={
            "brand": settings.brand_name,
            "recipient": Recipient("sender", name, payload.language, address, None),
            "event": payload,
            "reply_subject": reply_subject(payload.subject),
            "web": settings.web_base_url.rstrip("/") + "/",
            "organisation": await organisation(session),
        },
    )
    await enqueue_deliveries(
        session,
        rows=[
            {
                "event_id": envelope.event_id,
                "event_type": envelope.event_type,
                "recipient": address,
                "recipient_name": payload.display_name or None,
                "user_id": None,
                "language": rendered.language,
                "subject": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "in_reply_to": payload.message_id,
            }
        ],
        handoff=handoff,
    )
    NOTIFICATIONS_PLANNED.labels(envelope.event_type, "email").inc()


async def notify_webhook_disabled(
    session: AsyncSession,
    *,
    envelope: EventEnvelope,
    payload: WebhookDisabled,
    settings: NotificationsSettings,
    renderer: Renderer,
    handoff: Handoff | None = None,
) -> None:
    admins = await active_users(session, roles=["admin"])
    choices = await choices_for(
        session, user_ids=[admin.id for admin in admins], event=WEBHOOK_DISABLED_KIND
    )
    # The webhook's own admin page (its delivery log, and enabling it again).
    page = f"{settings.web_base_url.rstrip('/')}/#/admin/webhooks/{payload.webhook_id}"
    deliveries: list[dict[str, Any]] = []
    digest: list[dict[str, Any]] = []
    in_app: list[dict[str, Any]] = []
    for admin in admins:
        choice = choices.get(admin.id, DEFAULT_CHOICE)
        email = (admin.email or "").strip().lower() or None
        if choice.email == "off":
            email = None
        if email is None and not choice.in_app:
            continue
        rendered = renderer.render(
            WEBHOOK_DISABLED_KIND,
            language=admin.language,
            context={
                "brand": settings.brand_name,
                "recipient": Recipient("admin", admin.full_name, admin.language, email, admin.id),
                "event": payload,
                "ticket": None,
                # The layout's ticket link stays out; the template links the admin page.
                "link": None,
                "page": page,
            },
        )
        if email is not None and choice.email == "digest":
            digest.append(
                {
                    "user_id": admin.id,
                    "event_id": envelope.event_id,
                    "event_type": envelope.event_type,
                    "ticket_id": None,
                    "ticket_number": None,
                    "title": rendered.subject,
                    "summary": rendered.summary,
                    "link": page,
                }
            )
        elif email is not None:
            deliveries.append(
                {
                    "event_id": envelope.event_id,
                    "event_type": envelope.event_type,
                    "recipient": email,
                    "recipient_name": admin.full_name,
                    "user_id": admin.id,
                    "language": rendered.language,
                    "subject": rendered.subject,
                    "body_text": rendered.text,
                    "body_html": rendered.html,
                }
            )
        if choice.in_app:
            in_app.append(
                {
                    "user_id": admin.id,
                    "event_id": envelope.event_id,
                    "event_type": envelope.event_type,
                    "ticket_id": None,
                    "ticket_number": None,
                    "title": rendered.subject,
                    "body": rendered.summary,
                    "link": page,
                    "created_at": envelope.occurred_at,
                    # The administrators' own business: the integrations are theirs.
                    "addressed": True,
                }
            )
    await enqueue_deliveries(session, rows=deliveries, handoff=handoff)
    await add_digest_items(session, rows=digest)
    await add_notifications(session, rows=in_app)
    NOTIFICATIONS_PLANNED.labels(envelope.event_type, "email").inc(len(deliveries))
    NOTIFICATIONS_PLANNED.labels(envelope.event_type, "digest").inc(len(digest))
    NOTIFICATIONS_PLANNED.labels(envelope.event_type, "in_app").inc(len(in_app))
