"""Tickets, their comments and their timeline (the tables; reads use these models, the
write path writes the same columns with the SQL in ``store.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from tickets.db import Base
from tickets.tickets.policy import STATUSES

# What a count of the list reads besides an index's key: the filters' columns and the
# overdue condition's, included in the indexes counts scan (migration 0008).
COUNTED_COLUMNS = (
    "status",
    "category_id",
    "priority",
    "assignee_id",
    "first_response_at",
    "first_response_due_at",
    "sla_paused_since",
    "resolution_due_at",
)


# The open tickets, a few per cent of them: partial indexes in each sort's order.
OPEN_TICKETS = "status IN ('new', 'in_progress', 'pending')"
# The due date as the list sorts it (no due date last), the key of the due indexes.
DUE_KEY = sa.text("coalesce(resolution_due_at, '9999-12-31 00:00:00+00'::timestamptz)")


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(unique=True)
    title: Mapped[str]
    description: Mapped[str]
    category_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("categories.id"))
    priority: Mapped[str] = mapped_column(sa.ForeignKey("priorities.code"))
    # How the priority was chosen: manual, rule, category or default.
    priority_source: Mapped[str]
    unit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("units.id"))
    requester_id: Mapped[uuid.UUID | None]
    requester_name: Mapped[str | None]
    created_by_id: Mapped[uuid.UUID]
    created_by_name: Mapped[str]
    created_by_role: Mapped[str]
    contact_name: Mapped[str | None]
    contact_phone: Mapped[str | None]
    contact_email: Mapped[str | None]
    channel: Mapped[str]
    status: Mapped[str]
    # The reason given with the last reject / pending / reopen.
    status_reason: Mapped[str | None]
    assignee_id: Mapped[uuid.UUID | None]
    assignee_name: Mapped[str | None]
    result_summary: Mapped[str | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    # Optimistic concurrency: every change increments it; it is the ETag.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Metrics in working seconds (office hours only; resolution excludes paused time).
    first_response_seconds: Mapped[int | None]
    resolution_seconds: Mapped[int | None]

    # SLA: targets copied from the policy of the ticket's priority, in working minutes.
    sla_first_response_minutes: Mapped[int | None]
    sla_resolution_minutes: Mapped[int | None]
    # The instants at which each threshold is reached (warning, due, escalation).
    first_response_warn_at: Mapped[datetime | None]
    first_response_due_at: Mapped[datetime | None]
    first_response_escalate_at: Mapped[datetime | None]
    resolution_warn_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    resolution_escalate_at: Mapped[datetime | None]
    # When each threshold fired: set once, so each event is emitted once per ticket.
    first_response_warned_at: Mapped[datetime | None]
    first_response_breached_at: Mapped[datetime | None]
    first_response_escalated_at: Mapped[datetime | None]
    resolution_warned_at: Mapped[datetime | None]
    resolution_breached_at: Mapped[datetime | None]
    resolution_escalated_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0)
    # The resolution clock stops while pending or resolved: since when, and how much
    # working time it has been stopped before (which pushes the due dates out).
    sla_paused_since: Mapped[datetime | None]
    sla_paused_seconds: Mapped[int] = mapped_column(default=0)
    # The earliest threshold still to fire; the scheduler's only search key.
    sla_next_check_at: Mapped[datetime | None]

    search: Mapped[Any] = mapped_column(
        TSVECTOR,
        sa.Computed(
            "setweight(to_tsvector('indonesian', coalesce(number, '') || ' ' || title), 'A')"
            " || setweight(to_tsvector('indonesian', description), 'B')",
            persisted=True,
        ),
        deferred=True,
    )

    __table_args__ = (
        sa.CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        sa.Index("ix_tickets_created", "created_at", "id"),
        # A unit's tickets, newest first; a count of them reads the index alone
        # (migration 0008).
        sa.Index(
            "ix_tickets_unit_list",
            "unit_id",
            "created_at",
            "id",
            postgresql_include=list(COUNTED_COLUMNS),
        ),
        sa.Index("ix_tickets_status_created", "status", "created_at"),
        sa.Index("ix_tickets_assignee", "assignee_id", "status"),
        sa.Index("ix_tickets_search", "search", postgresql_using="gin"),
        sa.Index(
            "ix_tickets_sla_next_check",
            "sla_next_check_at",
            postgresql_where=sa.text("sla_next_check_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_tickets_resolved_open",
            "resolved_at",
            postgresql_where=sa.text("status = 'resolved'"),
        ),
        # The list's sorts, each in its keyset order (migration 0008; tickets.queries).
        sa.Index("ix_tickets_updated", "updated_at", "id"),
        sa.Index("ix_tickets_due", DUE_KEY, "id"),
        sa.Index("ix_tickets_priority", "priority", "id"),
        # A unit's tickets by priority: a requester's priority sort (migration 0008).
        sa.Index("ix_tickets_unit_priority", "unit_id", "priority", "id"),
        # A requester's tickets (the requester filter), newest first.
        sa.Index("ix_tickets_requester", "requester_id", "created_at", "id"),
        *(
            sa.Index(f"ix_tickets_open_{name}", *key, postgresql_where=sa.text(OPEN_TICKETS))
            for name, key in (
                ("updated", ("updated_at", "id")),
                ("due", (DUE_KEY, "id")),
                ("priority", ("priority", "id")),
                ("number", ("number",)),
            )
        ),
        sa.Index(
            "ix_tickets_open_created",
            "created_at",
            "id",
            postgresql_include=["unit_id", *COUNTED_COLUMNS],
            postgresql_where=sa.text(OPEN_TICKETS),
        ),
    )


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tickets.id"))
    author_id: Mapped[uuid.UUID | None]
    author_name: Mapped[str]
    author_role: Mapped[str]
    body: Mapped[str]
    # Internal notes are for IT staff only; a requester never sees them anywhere.
    internal: Mapped[bool]
    created_at: Mapped[datetime]

    __table_args__ = (sa.Index("ix_comments_ticket", "ticket_id", "created_at"),)


class TimelineEntry(Base):
    """One immutable line of a ticket's history (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "timeline"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tickets.id"))
    at: Mapped[datetime]
    kind: Mapped[str]
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str]
    actor_role: Mapped[str]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    note: Mapped[str | None]
    internal: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (sa.Index("ix_timeline_ticket", "ticket_id", "id"),)
