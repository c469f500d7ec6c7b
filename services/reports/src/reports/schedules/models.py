"""Scheduled reports: what to send to whom and how often, and the runs that sent it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from reports.db import Base


class ReportSchedule(Base):
    __tablename__ = "report_schedules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Who subscribed: a leader sees and edits only their own schedules (an admin all).
    owner_id: Mapped[uuid.UUID]
    owner_name: Mapped[str] = mapped_column(sa.Text)
    owner_role: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str] = mapped_column(sa.Text)
    report: Mapped[str] = mapped_column(sa.Text)
    cadence: Mapped[str] = mapped_column(sa.Text)
    # unit_id, category_id, priority, agent_id, channel (absent: not filtered).
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'"))
    # group_by, by: how the report is laid out.
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'"))
    # Users from the directory replica (never free addresses: reports are internal data).
    recipient_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(sa.Uuid))
    language: Mapped[str] = mapped_column(sa.Text)
    is_active: Mapped[bool]
    # The next period to deliver (its first day) and when its report is due.
    next_period_from: Mapped[date]
    due_at: Mapped[datetime]
    # Failed attempts at the next period so far, and the last failure.
    attempts: Mapped[int] = mapped_column(server_default=sa.text("0"))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    version: Mapped[int] = mapped_column(server_default=sa.text("1"))

    __table_args__ = (
        sa.CheckConstraint("cadence IN ('weekly', 'monthly')", name="cadence_known"),
        # The worker looks for the active schedules that are due, soonest first.
        sa.Index("ix_report_schedules_due", "due_at", postgresql_where=sa.text("is_active")),
        sa.Index("ix_report_schedules_owner_created", "owner_id", "created_at"),
    )


class ReportRun(Base):
    """One period of one schedule: at most one row, so a period is never sent twice."""

    __tablename__ = "report_runs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    schedule_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("report_schedules.id", ondelete="CASCADE")
    )
    period_from: Mapped[date]
    period_to: Mapped[date]
    # generated (handed to the notifications service), skipped (nobody to send it to) or
    # failed (every attempt failed).
    status: Mapped[str] = mapped_column(sa.Text)
    generated_at: Mapped[datetime]
    recipient_count: Mapped[int]
    filename: Mapped[str | None] = mapped_column(sa.Text)
    size_bytes: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("schedule_id", "period_from", name="uq_report_runs_schedule_period"),
        sa.CheckConstraint("status IN ('generated', 'skipped', 'failed')", name="status_known"),
    )
