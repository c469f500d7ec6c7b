"""Users and units as identity last described them (never read from identity's tables)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from notifications.db import Base


class DirectoryUser(Base):
    __tablename__ = "directory_users"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.Text)
    full_name: Mapped[str] = mapped_column(sa.Text)
    email: Mapped[str | None] = mapped_column(sa.Text)
    role: Mapped[str] = mapped_column(sa.Text)
    unit_id: Mapped[uuid.UUID | None]
    is_active: Mapped[bool]
    language: Mapped[str] = mapped_column(sa.Text, default="id")
    # Identity's revision of this snapshot: an older snapshot never overwrites a newer one.
    revision: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.Index("ix_directory_users_role_active", "role", "is_active"),)


class DirectoryUnit(Base):
    __tablename__ = "directory_units"

    unit_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str] = mapped_column(sa.Text)
    contact_name: Mapped[str | None] = mapped_column(sa.Text)
    contact_email: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool]
    revision: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
