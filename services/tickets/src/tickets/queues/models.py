"""Saved views: a user's named ticket list filters (the list's query parameters)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tickets.db import Base


class SavedView(Base):
    """One view a user saved from the list's filters; the built-in views are not stored
    (``queues.service.BUILTIN_VIEWS``)."""

    __tablename__ = "saved_views"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The owner; only they see, count, change or delete it.
    user_id: Mapped[uuid.UUID]
    name: Mapped[str]
    # The list's query parameters as the client sends them (``status``: comma-separated),
    # validated with the list's own parser when saved.
    params: Mapped[dict[str, Any]]
    # The order of the owner's views (0 first), after the built-in views.
    position: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        # A user's view names are unique whatever their case ("Jaringan" = "jaringan").
        sa.Index("ux_saved_views_user_name", "user_id", sa.text("lower(name)"), unique=True),
        sa.Index("ix_saved_views_user_position", "user_id", "position"),
    )
