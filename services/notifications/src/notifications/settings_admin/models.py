"""The SMTP settings saved by an administrator: a single row."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from notifications.db import Base
from notifications.settings import SmtpSecurity


class SmtpSettingsRow(Base):
    __tablename__ = "smtp_settings"

    # Always 1: there is one SMTP configuration per installation.
    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    host: Mapped[str] = mapped_column(sa.Text)
    port: Mapped[int]
    security: Mapped[SmtpSecurity] = mapped_column(sa.Text)
    username: Mapped[str | None] = mapped_column(sa.Text)
    # Fernet token; the plain password is never stored nor returned.
    password_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    sender: Mapped[str] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    updated_by: Mapped[uuid.UUID | None]

    __table_args__ = (
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint("security IN ('none', 'starttls', 'tls')", name="security_known"),
    )
