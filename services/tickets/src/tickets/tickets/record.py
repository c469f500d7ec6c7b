"""The ticket as the write path holds it: a plain dataclass of the ``tickets`` columns.

The store reads a ticket for a change into a :class:`TicketRecord`, the pure code
(``changes.py``, ``lifecycle.py``, ``sla/``) sets its fields, and the store writes them
back. A plain object costs a few microseconds to build and to change, where an ORM
instance costs ~100 (its attribute instrumentation), and it needs no session. Reads for
display (``queries.py``) keep using the ORM model :class:`tickets.tickets.models.Ticket`;
both have the same attributes, and the code that shows them takes either (``AnyTicket``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TypeAlias

from tickets.tickets.models import Ticket


@dataclass(slots=True, kw_only=True)
class TicketRecord:
    # In the order of the table's columns (without the search vector, which only the
    # database writes): the store's SQL lists them in this order.
    id: uuid.UUID
    number: str
    title: str
    description: str
    category_id: uuid.UUID | None
    priority: str
    priority_source: str
    unit_id: uuid.UUID
    requester_id: uuid.UUID | None
    requester_name: str | None
    created_by_id: uuid.UUID
    created_by_name: str
    created_by_role: str
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    channel: str
    status: str
    status_reason: str | None = None
    assignee_id: uuid.UUID | None = None
    assignee_name: str | None = None
    result_summary: str | None = None
    reopen_count: int = 0
    version: int = 1
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    first_response_seconds: int | None = None
    resolution_seconds: int | None = None
    sla_first_response_minutes: int | None = None
    sla_resolution_minutes: int | None = None
    first_response_warn_at: datetime | None = None
    first_response_due_at: datetime | None = None
    first_response_escalate_at: datetime | None = None
    resolution_warn_at: datetime | None = None
    resolution_due_at: datetime | None = None
    resolution_escalate_at: datetime | None = None
    first_response_warned_at: datetime | None = None
    first_response_breached_at: datetime | None = None
    first_response_escalated_at: datetime | None = None
    resolution_warned_at: datetime | None = None
    resolution_breached_at: datetime | None = None
    resolution_escalated_at: datetime | None = None
    escalation_level: int = 0
    sla_paused_since: datetime | None = None
    sla_paused_seconds: int = 0
    sla_next_check_at: datetime | None = None


# The column names, in order.
TICKET_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(TicketRecord))

# A ticket as read for display (ORM) or for a change (record): the same attributes.
AnyTicket: TypeAlias = Ticket | TicketRecord
