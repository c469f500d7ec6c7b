from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from helpdesk_common.pagination import Page
from notifications.email.models import DeliveryStatus

# The listing's status filter: the statuses a delivery can have.
DeliveryStatusParam = DeliveryStatus


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID | None
    event_type: str
    ticket_id: uuid.UUID | None
    ticket_number: str | None
    recipient: str
    recipient_name: str | None
    language: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None


class DeliveryDetail(DeliveryOut):
    body_text: str
    body_html: str


# items, newest first; next_cursor: pass as ``cursor`` for the next (older) page.
DeliveryPage = Page[DeliveryOut]


class DeliveryCounts(BaseModel):
    pending: int
    sending: int
    sent: int
    failed: int


class RetryAllResult(BaseModel):
    retried: int
