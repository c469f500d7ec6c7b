"""Request and response bodies of the chat channels API and of the generic webhook."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from helpdesk_common.inputs import PositiveInt4, SafeAwareDateTime, SafeText
from helpdesk_common.patching import not_null

Provider = Literal["whatsapp", "generic"]
Outcome = Literal["ticket", "comment", "refused"]

Name = Annotated[SafeText, StringConstraints(min_length=1, max_length=120)]
# A signing secret: long enough not to be guessed, short enough to store.
Secret = Annotated[SafeText, StringConstraints(min_length=16, max_length=500)]
VerifyToken = Annotated[SafeText, StringConstraints(min_length=8, max_length=200)]


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    provider: Provider
    secret: Secret = Field(
        description="write-only: the HMAC key (generic) or the Meta app secret (whatsapp)"
    )
    verify_token: VerifyToken | None = Field(
        default=None,
        description="write-only: the token of WhatsApp's subscription handshake"
        " (hub.verify_token); required for whatsapp",
    )
    default_unit_id: uuid.UUID
    default_category_id: uuid.UUID
    is_active: StrictBool = True


class ChannelUpdate(BaseModel):
    """Only the fields given change; a secret or verify token left out is kept."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=not_null(
            "name", "secret", "default_unit_id", "default_category_id", "is_active"
        ),
    )

    name: Name | None = None
    secret: Secret | None = None
    verify_token: VerifyToken | None = None
    default_unit_id: uuid.UUID | None = None
    default_category_id: uuid.UUID | None = None
    is_active: StrictBool | None = None
    version: PositiveInt4 | None = Field(
        default=None, description="the version you read; 412 version_mismatch if stale"
    )


class ChannelOut(BaseModel):
    id: uuid.UUID
    name: str
    provider: Provider
    has_secret: bool
    has_verify_token: bool
    default_unit_id: uuid.UUID
    default_category_id: uuid.UUID
    is_active: bool
    webhook_path: str = Field(description="where the provider posts: the gateway's path")
    last_message_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class MessageOut(BaseModel):
    id: uuid.UUID
    provider_message_id: str
    conversation_id: str
    sender_name: str
    sender_contact: str
    sent_at: datetime | None
    received_at: datetime
    outcome: Outcome
    reason: str | None
    ticket_id: uuid.UUID | None
    ticket_number: str | None
    comment_id: uuid.UUID | None


# The generic webhook's body (signed: X-Helpdesk-Timestamp, X-Helpdesk-Signature).

Id = Annotated[SafeText, StringConstraints(min_length=1, max_length=200)]
Email = Annotated[
    str,
    StringConstraints(max_length=254, pattern=r"^[^\s@\u0000]+@[^\s@\u0000]+\.[^\s@\u0000]+$"),
]
Phone = Annotated[str, StringConstraints(min_length=3, max_length=32, pattern=r"^\+?[0-9 ()./-]+$")]


class GenericSender(BaseModel):
    """Who wrote: ``email`` or ``phone`` (or both) is required, as the ticket's contact: a
    later message of the conversation is taken as a reply only from that contact (or from
    the known user whose address ``email`` is)."""

    model_config = ConfigDict(extra="forbid")

    id: Id
    name: Annotated[SafeText, StringConstraints(min_length=1, max_length=200)]
    email: Email | None = Field(
        default=None, description="a known user's address makes them the requester"
    )
    phone: Phone | None = None

    @model_validator(mode="after")
    def _reachable(self) -> GenericSender:
        if not self.email and not self.phone:
            raise ValueError("give the sender's email or phone (or both)")
        return self


class GenericMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: Id = Field(description="unique per channel: a repeat is made once")
    conversation_id: Id = Field(description="one ticket per conversation while it is open")
    sender: GenericSender
    text: Annotated[SafeText, StringConstraints(min_length=1, max_length=20_000)]
    sent_at: SafeAwareDateTime | None = None


class HookResult(BaseModel):
    message_id: str
    outcome: Outcome
    duplicate: bool = Field(description="already received before: nothing made again")
    ticket_id: uuid.UUID | None
    ticket_number: str | None


class HookAck(BaseModel):
    """What a hook call did, message by message (statuses and other notices: none)."""

    received: int
    results: list[HookResult]
