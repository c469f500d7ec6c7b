"""Events published by the integrations service (``intake.*``, ``webhook.*``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from helpdesk_common.contracts.envelope import EventPayload
from helpdesk_common.contracts.identity import Language


class IntakeSenderRefused(EventPayload):
    """A mail from an address that belongs to no user reached a mailbox whose policy for
    unknown senders is to answer once and create nothing: the notifications service sends
    the explanation to ``address``. Published at most once per address and mailbox within
    the mailbox's quiet period, never for automatic mail (RFC 3834)."""

    event_type: ClassVar[str] = "intake.sender_refused"
    mailbox_id: uuid.UUID
    mailbox_name: str
    # Where the explanation goes, and how the sender named themselves.
    address: str
    display_name: str | None = None
    # The refused mail, so the answer can quote it and thread under it.
    subject: str
    message_id: str | None = None
    reason: Literal["unknown_sender"] = "unknown_sender"
    language: Language = "id"
    refused_at: datetime


class WebhookDisabled(EventPayload):
    """An outbound webhook whose deliveries kept failing for the allowed time was disabled:
    the administrators are told (the notifications service)."""

    event_type: ClassVar[str] = "webhook.disabled"
    webhook_id: uuid.UUID
    name: str
    url: str
    failing_since: datetime
    last_error: str | None = None
    disabled_at: datetime
