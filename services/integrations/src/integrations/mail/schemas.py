"""Request and response bodies of the mailboxes API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from helpdesk_common.inputs import JSON_INTEGER, PositiveInt4, SafeText
from helpdesk_common.patching import not_null

Security = Literal["ssl", "starttls", "none"]
UnknownSenders = Literal["create_ticket", "reply_once"]
Outcome = Literal["ticket", "comment", "ignored", "refused", "throttled", "failed"]
State = Literal["ok", "failing", "never_polled", "inactive"]

Name = Annotated[SafeText, StringConstraints(min_length=1, max_length=120)]
# A host name or an IPv4/IPv6 address (no scheme, no port, no spaces).
HOST_PATTERN = r"^[A-Za-z0-9._:\[\]-]{1,253}$"
Host = Annotated[SafeText, StringConstraints(pattern=HOST_PATTERN)]
Username = Annotated[SafeText, StringConstraints(min_length=1, max_length=320)]
Password = Annotated[SafeText, StringConstraints(min_length=1, max_length=500)]
# An IMAP folder name (sent quoted; no line breaks or quotes).
FOLDER_PATTERN = r"^[^\u0000\r\n\"\\]{1,200}$"
Folder = Annotated[SafeText, StringConstraints(pattern=FOLDER_PATTERN)]
Port = Annotated[int, Field(ge=1, le=65535), JSON_INTEGER]
Interval = Annotated[int, Field(ge=10, le=86400), JSON_INTEGER]


class MailboxCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    host: Host
    port: Port = 993
    security: Security = "ssl"
    username: Username
    password: Password = Field(description="write-only: the IMAP password, stored encrypted")
    folder: Folder = "INBOX"
    default_unit_id: uuid.UUID = Field(
        description="the unit of tickets from unknown senders (and the fallback)"
    )
    default_category_id: uuid.UUID
    unknown_senders: UnknownSenders = Field(
        default="create_ticket",
        description="create_ticket: a ticket of the default unit with the sender as contact;"
        " reply_once: nothing made, the sender is told once per 30 days how to get an account",
    )
    is_active: StrictBool = True
    poll_interval_seconds: Interval = 60


_NOT_NULL = (
    "name",
    "host",
    "port",
    "security",
    "username",
    "password",
    "folder",
    "default_unit_id",
    "default_category_id",
    "unknown_senders",
    "is_active",
    "poll_interval_seconds",
)


class MailboxUpdate(BaseModel):
    """Only the fields given change; the password left out is kept."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=not_null(*_NOT_NULL))

    name: Name | None = None
    host: Host | None = None
    port: Port | None = None
    security: Security | None = None
    username: Username | None = None
    password: Password | None = Field(default=None, description="write-only; kept when left out")
    folder: Folder | None = None
    default_unit_id: uuid.UUID | None = None
    default_category_id: uuid.UUID | None = None
    unknown_senders: UnknownSenders | None = None
    is_active: StrictBool | None = None
    poll_interval_seconds: Interval | None = None
    version: PositiveInt4 | None = Field(
        default=None, description="the version you read; 412 version_mismatch if stale"
    )


class MailboxStatus(BaseModel):
    state: State
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    failing_since: datetime | None
    consecutive_failures: int
    next_attempt_at: datetime | None


class MailboxOut(BaseModel):
    id: uuid.UUID
    name: str
    host: str
    port: int
    security: Security
    username: str
    has_password: bool
    folder: str
    default_unit_id: uuid.UUID
    default_category_id: uuid.UUID
    unknown_senders: UnknownSenders
    is_active: bool
    poll_interval_seconds: int
    status: MailboxStatus
    version: int
    created_at: datetime
    updated_at: datetime


class CheckOut(BaseModel):
    ok: bool
    error: str | None
    message_count: int | None


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    message_id: str | None
    from_address: str | None
    from_name: str | None
    subject: str
    received_at: datetime | None
    processed_at: datetime
    outcome: Outcome
    reason: str | None
    ticket_id: uuid.UUID | None
    ticket_number: str | None
    attachments_stored: int
    attachments_refused: int
