"""Events published by the tickets service (``ticket.*``).

Each carries a full :class:`TicketSnapshot` as of just after the change, so notification
and report consumers never have to call back into the tickets service.
``ticket.status_changed`` is emitted on every status transition; the specific events
(``ticket.resolved``, ``ticket.closed``, ``ticket.reopened``) are emitted in addition and
add their own detail.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from helpdesk_common.contracts.envelope import EventPayload

TicketStatus = Literal["new", "in_progress", "pending", "resolved", "closed", "rejected"]
SlaTarget = Literal["first_response", "resolution"]


class Actor(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    user_id: uuid.UUID | None  # None for the system (scheduler, auto-close)
    name: str
    role: str


class TicketSnapshot(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    ticket_id: uuid.UUID
    number: str
    title: str
    status: TicketStatus
    priority: str
    category_id: uuid.UUID | None = None
    category_name: str | None = None
    unit_id: uuid.UUID
    unit_name: str | None = None
    requester_id: uuid.UUID | None = None
    requester_name: str | None = None
    contact_name: str | None = None
    assignee_id: uuid.UUID | None = None
    assignee_name: str | None = None
    created_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    version: int
    # Added for read models (reports): what a figure needs beyond the fields above. The SLA
    # stamps and the escalation level change without a new version (the scheduler's
    # bookkeeping); they only ever go from unset to set, and the level only up.
    channel: str | None = None
    updated_at: datetime | None = None
    first_response_seconds: int | None = None  # working time to the first response
    resolution_seconds: int | None = None  # working time to resolution, pauses excluded
    first_response_breached_at: datetime | None = None
    resolution_breached_at: datetime | None = None
    escalation_level: int = 0
    reopen_count: int = 0
    result_summary: str | None = None


class TicketEvent(EventPayload):
    ticket: TicketSnapshot
    actor: Actor


class TicketCreated(TicketEvent):
    event_type: ClassVar[str] = "ticket.created"


class TicketAssigned(TicketEvent):
    event_type: ClassVar[str] = "ticket.assigned"
    assignee_id: uuid.UUID
    assignee_name: str
    previous_assignee_id: uuid.UUID | None = None


class TicketUpdated(TicketEvent):
    """Staff edited the ticket's fields (title, description, category, priority, contact):
    ``fields`` names those that changed; the snapshot shows their new values."""

    event_type: ClassVar[str] = "ticket.updated"
    fields: list[str]


class TicketStatusChanged(TicketEvent):
    event_type: ClassVar[str] = "ticket.status_changed"
    from_status: TicketStatus
    to_status: TicketStatus
    reason: str | None = None


class TicketCommented(TicketEvent):
    event_type: ClassVar[str] = "ticket.commented"
    comment_id: uuid.UUID
    body: str
    # Internal notes are for IT staff only: never shown or mailed to a requester.
    internal: bool


class TicketResolved(TicketEvent):
    event_type: ClassVar[str] = "ticket.resolved"
    result_summary: str


class TicketClosed(TicketEvent):
    event_type: ClassVar[str] = "ticket.closed"
    automatic: bool = False


class TicketReopened(TicketEvent):
    event_type: ClassVar[str] = "ticket.reopened"
    reason: str | None = None


class TicketSlaWarning(TicketEvent):
    event_type: ClassVar[str] = "ticket.sla_warning"
    target: SlaTarget
    due_at: datetime
    threshold: float


class TicketSlaBreached(TicketEvent):
    event_type: ClassVar[str] = "ticket.sla_breached"
    target: SlaTarget
    due_at: datetime


class TicketEscalated(TicketEvent):
    event_type: ClassVar[str] = "ticket.escalated"
    target: SlaTarget
    reason: str
    escalated_to_roles: list[str] = ["leader"]
