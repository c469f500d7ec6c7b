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
    # The ticket's count and bytes of current files: the per-ticket limits are checked
    # against these under the row's lock, so two uploads at once cannot both pass.
    file_count: Mapped[int] = mapped_column(default=0, server_default="0")
    file_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
