"""A scheduled report's document becomes one queued e-mail per recipient, in the inbox
transaction, with the document attached (stored once for all of them).

The reports service chose the recipients (active staff with an address, when it ran): they
are mailed as the event lists them, in their own language, by e-mail only (no in-app
notification). The inbox makes the event handled once; the deliveries are unique per event
and address besides, and the sender's claims keep a mail from going out twice.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.consumer import PoisonMessage
from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.reports import ReportGenerated, ReportRecipient
from notifications.email.rendering import Renderer
from notifications.email.service import (
    Attachment,
    Handoff,
    delivery_row,
    enqueue_deliveries,
    store_attachment,
)
from notifications.routing.handlers import NOTIFICATIONS_PLANNED
from notifications.settings import NotificationsSettings

EVENT_TYPE = ReportGenerated.event_type
TEMPLATE = "report"


@dataclass(frozen=True)
class _Addressee:
    """What the templates read of a recipient (``recipient.name``)."""

    name: str


def _document(payload: ReportGenerated) -> bytes:
    try:
        return base64.b64decode(payload.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        # It can never succeed: the consumer parks it in its dead-letter queue at once.
        raise PoisonMessage(f"report.generated {payload.run_id}: content is not base64") from exc


async def mail_report(
    session: AsyncSession,
    *,
    envelope: EventEnvelope,
    payload: ReportGenerated,
    settings: NotificationsSettings,
    renderer: Renderer,
    handoff: Handoff | None = None,
) -> None:
    recipients: dict[str, ReportRecipient] = {}
    for recipient in payload.recipients:
        if recipient.email.strip():
            recipients.setdefault(recipient.email.strip().lower(), recipient)
    if not recipients:
        return
    # Keyed by the event: stored again for a redelivered event, it is the same row.
    await store_attachment(
        session,
        attachment_id=envelope.event_id,
        attachment=Attachment(
            filename=payload.filename, media_type=payload.media_type, content=_document(payload)
        ),
    )
    deliveries: list[dict[str, Any]] = []
    for address, recipient in recipients.items():
        rendered = renderer.render(
            TEMPLATE,
            language=recipient.language,
            context={
                "brand": settings.brand_name,
                "recipient": _Addressee(name=recipient.name or address),
                "event": payload,
                "ticket": None,
                "link": None,
            },
        )
        deliveries.append(
            delivery_row(
                envelope,
                recipient=address,
                recipient_name=recipient.name or None,
                user_id=recipient.user_id,
                rendered=rendered,
                attachment_id=envelope.event_id,
            )
        )
    await enqueue_deliveries(session, rows=deliveries, handoff=handoff)
    NOTIFICATIONS_PLANNED.labels(envelope.event_type, "email").inc(len(deliveries))
