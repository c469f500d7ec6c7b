"""The triage setting (one row) and the triage group's members with their duty hours."""

from __future__ import annotations

import uuid
from datetime import datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from notifications.db import Base


class TriageSettingsRow(Base):
    __tablename__ = "triage_settings"

    # Always 1: one triage setting per installation.
    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    # all_agents: every active agent hears of a new ticket; triage_group: the members.
    mode: Mapped[str] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    updated_by: Mapped[uuid.UUID | None]

    __table_args__ = (
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint("mode IN ('all_agents', 'triage_group')", name="mode_known"),
    )


class TriageMember(Base):
    __tablename__ = "triage_members"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The order the administrator listed them in.
    position: Mapped[int]
    # Duty hours in the office's time zone: ISO weekdays (1 = Monday) and [from, to). All
    # three NULL: no duty hours, always on duty.
    weekdays: Mapped[list[int] | None] = mapped_column(sa.ARRAY(sa.SmallInteger))
    duty_from: Mapped[time | None] = mapped_column(sa.Time)
    duty_to: Mapped[time | None] = mapped_column(sa.Time)

    __table_args__ = (
        sa.CheckConstraint(
            "(weekdays IS NULL AND duty_from IS NULL AND duty_to IS NULL)"
            " OR (weekdays IS NOT NULL AND duty_from < duty_to)",
            name="duty_complete",
        ),
    )
