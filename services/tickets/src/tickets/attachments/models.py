"""The files of each ticket as the attachments service announced them (``attachment.*``).

A replica of the attachments service's metadata, never its bytes: the submission form lists
the current files from it. Written only by the consumer ``tickets.attachments``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tickets.db import Base


class TicketAttachment(Base):
    __tablename__ = "ticket_attachments"

    attachment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tickets.id"))
    # supporting, evidence, assignment_letter (contracts.attachments.AttachmentKind).
    kind: Mapped[str]
    filename: Mapped[str]
    media_type: Mapped[str]
    size: Mapped[int] = mapped_column(sa.BigInteger)
    # pending, clean, infected, too_large, not_scanned; infected is final.
    scan_status: Mapped[str]
    uploaded_by: Mapped[uuid.UUID]
    uploaded_by_name: Mapped[str | None]
    uploaded_at: Mapped[datetime]
    # Set once by the removal; nothing clears it again.
    removed_at: Mapped[datetime | None]

    __table_args__ = (sa.Index("ix_ticket_attachments_ticket", "ticket_id", "uploaded_at"),)
