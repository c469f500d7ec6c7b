"""What the intake channels made: one row per source (a mail, a chat message), forever."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tickets.db import Base


class IntakeSource(Base):
    """The ticket (and comment) a source made, written in the same transaction: a repeated
    ``source_key`` (the integrations service retrying after a crash, a provider's retry)
    returns them instead of making anything twice."""

    __tablename__ = "intake_sources"

    # The caller's key, e.g. "mail:<mailbox id>:<Message-ID>" or "chat:<channel id>:<id>".
    source_key: Mapped[str] = mapped_column(primary_key=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tickets.id"))
    # None: the source made the ticket; else the comment it added.
    comment_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("comments.id"))
    # The comment reopened the resolved ticket first.
    reopened: Mapped[bool]
    created_at: Mapped[datetime]

    __table_args__ = (sa.Index("ix_intake_sources_ticket", "ticket_id"),)
