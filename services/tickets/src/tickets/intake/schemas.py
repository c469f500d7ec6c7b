"""Bodies of the internal intake API (``/internal/intake/...``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints

from helpdesk_common.inputs import SafeText
from tickets.tickets.schemas import Email, Phone, Short, StrictBody, Text, Title

# The caller's key of the source (a mail, a chat message): unique forever.
SourceKey = Annotated[
    SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)
]
TicketRef = Annotated[
    SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
]
Contact = Annotated[SafeText, StringConstraints(strip_whitespace=True, max_length=254)]


class IntakeTicketCreate(StrictBody):
    source_key: SourceKey
    channel: Literal["email", "webhook"]
    # A known, active user (the sender, by the caller's directory), or None for a sender
    # nobody knows: then the ticket is for unit_id, with the contact fields.
    requester_id: uuid.UUID | None = None
    # The channel's default unit: the ticket's unit unless the requester is a requester
    # (their own unit).
    unit_id: uuid.UUID
    category_id: uuid.UUID
    title: Title
    description: Text
    # How the creator is shown when the sender is unknown, e.g. "Budi <budi@example.com>".
    sender_name: Short
    contact_name: Short | None = None
    contact_email: Email | None = None
    contact_phone: Phone | None = None


class IntakeCommentCreate(StrictBody):
    source_key: SourceKey
    # The ticket's id or number (TKT-2026-000123).
    ticket_ref: TicketRef
    # A known, active user, or None: then ``contact`` must be the ticket's contact e-mail
    # address or phone number.
    author_id: uuid.UUID | None = None
    author_name: Short
    contact: Contact | None = None
    body: Text


class IntakeOut(BaseModel):
    ticket_id: uuid.UUID
    number: str
    status: str
    # False: the source_key was seen before; this is what it made then.
    created: bool
    comment_id: uuid.UUID | None = None
    # The comment reopened the resolved ticket first.
    reopened: bool = False
