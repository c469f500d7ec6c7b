"""Request and response bodies of the ticket endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints, field_validator

from helpdesk_common.inputs import PositiveInt4, SafeText
from helpdesk_common.patching import not_null

# Every text is SafeText (no NUL, valid Unicode: helpdesk_common.inputs); a pattern of its
# own must refuse NUL too.
Title = Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
Text = Annotated[
    SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)
]
Reason = Annotated[
    SafeText, StringConstraints(strip_whitespace=True, min_length=3, max_length=2_000)
]
Short = Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()\-]{5,30}$")]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[^@\s\u0000]+@[^@\s\u0000]+\.[^@\s\u0000]+$",
    ),
]
PriorityCode = Annotated[
    SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)
]
Channel = Literal["web", "api", "email", "webhook", "phone", "walk_in"]


class StrictBody(BaseModel):
    # A misspelt field is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class TicketCreate(StrictBody):
    title: Title
    description: Text
    category_id: uuid.UUID
    # Requesters create for their own unit (may be omitted); agents must name the unit.
    unit_id: uuid.UUID | None = None
    # Staff only: otherwise chosen by the rules (keywords, unit, category default).
    priority: PriorityCode | None = None
    # Agents creating on someone's behalf may name the requesting user.
    requester_id: uuid.UUID | None = None
    contact_name: Short | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    channel: Channel = "web"


class TicketUpdate(StrictBody):
    model_config = ConfigDict(
        json_schema_extra=not_null("title", "description", "category_id", "priority")
    )

    title: Title | None = None
    description: Text | None = None
    category_id: uuid.UUID | None = None
    priority: PriorityCode | None = None
    contact_name: Short | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    # Alternative to the If-Match header.
    version: PositiveInt4 | None = None

    @field_validator("title", "description", "category_id", "priority")
    @classmethod
    def not_removed(cls, value: object) -> object:
        # Left out is fine, null is not (declared by not_null): refused with the rest of the
        # body, before the version is compared (a stale version must not hide a bad body).
        if value is None:
            raise ValueError("cannot be removed")
        return value


class VersionedBody(StrictBody):
    # Optional: when given (or If-Match is sent) a stale version gets 412.
    version: PositiveInt4 | None = None


class AssignBody(VersionedBody):
    assignee_id: uuid.UUID


class ReasonBody(VersionedBody):
    reason: Reason


class OptionalReasonBody(VersionedBody):
    reason: Reason | None = None


class ResolveBody(VersionedBody):
    result_summary: Text


class CommentCreate(StrictBody):
    body: Text
    internal: StrictBool = False


class TicketOut(BaseModel):
    id: uuid.UUID
    number: str
    title: str
    description: str
    status: str
    status_label: str
    priority: str
    priority_name: str
    priority_source: str
    category_id: uuid.UUID | None
    category_name: str | None
    unit_id: uuid.UUID
    unit_name: str | None
    requester_id: uuid.UUID | None
    requester_name: str | None
    created_by_id: uuid.UUID
    created_by_name: str
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    channel: str
    assignee_id: uuid.UUID | None
    assignee_name: str | None
    status_reason: str | None
    result_summary: str | None
    reopen_count: int
    version: int
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    first_response_seconds: int | None
    resolution_seconds: int | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    sla_paused: bool
    first_response_breached: bool
    resolution_breached: bool
    escalation_level: int
    overdue: bool
    allowed_actions: list[str]


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None
    # On the first page only (no cursor): how many tickets the filters select, exact up
    # to the count threshold (TICKETS_COUNT_THRESHOLD); above it the threshold itself with
    # total_exact false ("10,000+").
    total: int | None = None
    total_exact: bool | None = None
    # True on a first page whose count ran out of its time budget (TICKETS_FIRST_PAGE_BUDGET_MS;
    # a word and a filter matching many tickets): total and total_exact are then null and
    # the client asks GET /tickets/count with the same filters. False otherwise.
    total_deferred: bool = False


class TicketCount(BaseModel):
    """GET /tickets/count: the list's total as its first page would tell it."""

    # How many tickets the filters select, exact up to TICKETS_COUNT_THRESHOLD (then the
    # threshold with total_exact false); null when the count ran out of its time bound
    # (TICKETS_COUNT_TIMEOUT_MS).
    total: int | None
    total_exact: bool


class CommentOut(BaseModel):
    id: uuid.UUID
    ticket_id: uuid.UUID
    author_id: uuid.UUID | None
    author_name: str
    author_role: str
    body: str  # as written (Markdown)
    body_html: str  # rendered and sanitised on the server: safe to insert as HTML
    internal: bool
    created_at: datetime


class TimelineOut(BaseModel):
    id: int
    at: datetime
    kind: str
    actor_id: uuid.UUID | None
    actor_name: str
    actor_role: str
    before: dict[str, object] | None
    after: dict[str, object] | None
    note: str | None
    internal: bool
    # A comment's line: ``after.body`` rendered and sanitised (None for other kinds).
    body_html: str | None = None
