"""The declarative base of every table of the tickets service (declared without a schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

from helpdesk_common.db import service_metadata


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }
