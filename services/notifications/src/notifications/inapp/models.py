"""In-app notifications, one row per user and event."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from notifications.db import Base


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Orders a user's list newest first and serves as its cursor.
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    user_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(sa.Text)
    ticket_id: Mapped[uuid.UUID | None]
    ticket_number: Mapped[str | None] = mapped_column(sa.Text)
    title: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.Text)
    # For the user personally (assigned to them, their ticket's comment, SLA or escalation),
    # rather than a broadcast to a group (a new ticket in the queue): shown apart.
    addressed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    read_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("event_id", "user_id", name="uq_notifications_event_user"),
        sa.Index("ix_notifications_user_seq", "user_id", "seq"),
        # Unread counts touch only the unread rows of one user.
        sa.Index(
            "ix_notifications_user_unread",
            "user_id",
            postgresql_where=sa.text("read_at IS NULL"),
        ),
        # The "for me" list.
        sa.Index(
            "ix_notifications_user_addressed_seq",
            "user_id",
            "seq",
            postgresql_where=sa.text("addressed"),
        ),
    )

    @property
    def is_read(self) -> bool:
        # Read by NotificationOut (from_attributes) next to the columns.
        return self.read_at is not None
