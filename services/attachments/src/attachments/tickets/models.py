"""The local copy of the tickets whose files this service keeps."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from attachments.db import Base


class KnownTicket(Base):
    """A ticket as its latest event showed it: who may see its files (its unit) and whether
    it takes new ones (its status). Newest ``version`` wins, so events may come twice or
    out of order."""

    __tablename__ = "tickets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    number: Mapped[str]
    title: Mapped[str]
    unit_id: Mapped[uuid.UUID]
    status: Mapped[str]
    requester_id: Mapped[uuid.UUID | None]
    assignee_id: Mapped[uuid.UUID | None]
    version: Mapped[int] = mapped_column(sa.BigInteger)
