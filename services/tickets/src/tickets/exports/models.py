"""The ticket export's tables: who exported what (``export_log``) and the privacy policy
deciding who may export personal data (``export_policy``, one row)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tickets.db import Base

EXPORT_STATUSES = ("running", "completed", "failed", "aborted")


class ExportLog(Base):
    """One export: written (``running``) and committed before its first byte is sent, and
    finished when the stream ends (``completed`` with the rows sent, ``aborted`` when the
    client went away, ``failed`` on an error)."""

    __tablename__ = "export_log"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    user_id: Mapped[uuid.UUID]
    user_name: Mapped[str]
    user_role: Mapped[str]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    columns: Mapped[list[str]] = mapped_column(ARRAY(sa.Text))
    language: Mapped[str]
    row_count: Mapped[int | None] = mapped_column(sa.BigInteger)
    status: Mapped[str]

    __table_args__ = (sa.CheckConstraint(f"status IN {EXPORT_STATUSES!r}", name="status"),)


class ExportPolicy(Base):
    """Who may export personal data (UU PDP, Indonesia's personal data protection law):
    the roles allowed the contact columns. One row, ``id`` 1."""

    __tablename__ = "export_policy"

    id: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, default=1)
    contact_roles: Mapped[list[str]] = mapped_column(ARRAY(sa.Text))
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[uuid.UUID | None]
    updated_by_name: Mapped[str | None]

    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)
