"""A file on a ticket: its metadata here, its bytes in object storage under ``object_key``."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from attachments.db import Base


class Attachment(Base):
    """``state``: ``uploading`` while the object is being written (a row that stays so is
    an interrupted upload, swept with its object), ``stored`` once it is, ``removed`` after
    a deletion (the object goes after the retention period, then ``purged``)."""

    __tablename__ = "attachments"
    __table_args__ = (
        sa.Index("ix_attachments_ticket", "ticket_id", "uploaded_at", "id"),
        sa.Index(
            "ix_attachments_scan_pending",
            "uploaded_at",
            postgresql_where="scan_status = 'pending' AND state = 'stored'",
        ),
        sa.Index("ix_attachments_sweep", "state", "updated_at"),
        sa.UniqueConstraint("uploaded_by", "idempotency_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tickets.id"))
    kind: Mapped[str]
    filename: Mapped[str]
    media_type: Mapped[str]
    type_name: Mapped[str]
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str]
    object_key: Mapped[str] = mapped_column(unique=True)
    thumbnail_key: Mapped[str | None]
    state: Mapped[str]
    scan_status: Mapped[str]
    scan_signature: Mapped[str | None]
    scanned_at: Mapped[datetime | None]
    metadata_stripped: Mapped[bool] = mapped_column(default=False)
    uploaded_by: Mapped[uuid.UUID]
    uploaded_by_name: Mapped[str]
    uploaded_by_role: Mapped[str]
    uploaded_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime]
    idempotency_key: Mapped[str | None]
    # What an intake channel (mail, chat) named this file by, e.g.
    # ``mail:<mailbox>:<Message-ID>:<part>``: a repeat returns this file, forever.
    source_key: Mapped[str | None] = mapped_column(unique=True)
