"""The organisation's identity (the documents' letterhead): one row, ``id`` 1."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, get_args

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from identity.db import Base

LogoMediaType = Literal["image/png", "image/jpeg", "image/svg+xml"]
LOGO_MEDIA_TYPES: tuple[LogoMediaType, ...] = get_args(LogoMediaType)


class Organisation(Base):
    """Name, address, contact lines and logo, as an administrator last saved them.

    No row until the first save (readers then get the defaults); ``revision`` starts at 1
    and grows with every change, like users' and units'.
    """

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(
        sa.SmallInteger, primary_key=True, autoincrement=False, default=1
    )
    name: Mapped[str] = mapped_column(sa.Text)
    parent_name: Mapped[str | None] = mapped_column(sa.Text)
    address: Mapped[str | None] = mapped_column(sa.Text)
    phone: Mapped[str | None] = mapped_column(sa.Text)
    email: Mapped[str | None] = mapped_column(sa.Text)
    website: Mapped[str | None] = mapped_column(sa.Text)
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    logo_media_type: Mapped[LogoMediaType | None] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(pg.UUID(as_uuid=True))
    updated_by_name: Mapped[str] = mapped_column(sa.Text)

    __table_args__ = (
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint(
            f"logo_media_type IN {LOGO_MEDIA_TYPES!r}", name="logo_media_type_known"
        ),
        sa.CheckConstraint(
            "(logo IS NULL) = (logo_media_type IS NULL)", name="logo_has_media_type"
        ),
    )
