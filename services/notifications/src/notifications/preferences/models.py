"""A user's channel choice for one event type; no row means the default (in-app on, e-mail
instant: what everyone got before preferences existed)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from notifications.db import Base


class NotificationPreference(Base):
    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The event type as the templates name it (``created``, ``assigned``, ...).
    event: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    in_app: Mapped[bool]
    email: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )

    __table_args__ = (
        sa.CheckConstraint("email IN ('instant', 'digest', 'off')", name="email_known"),
    )
