"""The webhooks API's requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from helpdesk_common.inputs import JSON_INTEGER, SafeText
from helpdesk_common.patching import not_null
from integrations.webhooks.signing import MIN_SECRET_LENGTH

# The events a webhook may subscribe to: those of the consumer integrations.webhooks
# (helpdesk_common.contracts.subscriptions; a test keeps the two lists equal).
EventType = Literal[
    "ticket.created",
    "ticket.assigned",
    "ticket.status_changed",
    "ticket.commented",
    "ticket.resolved",
    "ticket.closed",
    "ticket.reopened",
    "ticket.sla_warning",
    "ticket.sla_breached",
    "ticket.escalated",
    "ticket.updated",
    "attachment.added",
    "attachment.removed",
    "attachment.quarantined",
]
DeliveryStatus = Literal["pending", "retrying", "succeeded", "failed"]
WebhookState = Literal["active", "failing", "disabled"]

Name = Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# http(s) only, no spaces or NUL; what the host resolves to is checked by the service.
Url = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=10,
        max_length=2000,
        pattern=r"^[hH][tT][tT][pP][sS]?://[^\u0000-\u0020\u007f]+$",
    ),
]
Secret = Annotated[SafeText, StringConstraints(min_length=MIN_SECRET_LENGTH, max_length=500)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=50)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    url: Url
    # The signing key (at least 16 characters); left out, one is generated and returned
    # once, in the 201 answer's "secret".
    secret: Secret | None = None
    event_types: EventTypes
    is_active: StrictBool = True


class WebhookUpdate(BaseModel):
    """Only the fields sent change; ``is_active: true`` re-enables a disabled webhook;
    ``version``, when sent, must be the current one (else 412 ``version_mismatch``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=not_null("name", "url", "secret", "event_types", "is_active", "version"),
    )

    name: Name | None = None
    url: Url | None = None
    secret: Secret | None = None
    event_types: EventTypes | None = None
    is_active: StrictBool | None = None
    version: Annotated[int, Field(ge=1, le=2**31 - 1), JSON_INTEGER] | None = None


class WebhookOut(BaseModel):
    id: uuid.UUID
    name: str
    url: str
    has_secret: bool
    event_types: list[str]
    is_active: bool
    state: WebhookState
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    last_success_at: datetime | None
    last_error: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    # The signing key, only here, only once (null when the request gave its own).
    secret: str | None = None


class EventTypeOut(BaseModel):
    event_type: str
    description: str


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    ticket_id: uuid.UUID | None
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    duration_ms: int | None
    redelivery_of: uuid.UUID | None
    created_at: datetime


class DeliveryDetail(DeliveryOut):
    request_body: str
    response_excerpt: str | None
