"""Declarative base of the service's tables (no schema: ``search_path`` picks it)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from helpdesk_common.db import service_metadata


class Base(DeclarativeBase):
    metadata = service_metadata()
