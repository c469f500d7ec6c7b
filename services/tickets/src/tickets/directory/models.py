"""Local copies of identity's units (SKPD) and users, kept current from identity events."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Mapped, mapped_column

from tickets.db import Base


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str]
    name: Mapped[str]
    contact_name: Mapped[str | None]
    contact_email: Mapped[str | None]
    is_active: Mapped[bool]
    # Identity's revision of the snapshot: an older snapshot never overwrites a newer one.
    revision: Mapped[int]
    updated_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    username: Mapped[str]
    full_name: Mapped[str]
    email: Mapped[str | None]
    role: Mapped[str] = mapped_column(index=True)
    unit_id: Mapped[uuid.UUID | None]
    is_active: Mapped[bool]
    language: Mapped[str]
    revision: Mapped[int]
    updated_at: Mapped[datetime]
