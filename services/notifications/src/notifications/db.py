"""The declarative base of every table of the notifications service (declared without a
schema: ``search_path`` picks it)."""

from __future__ import annotations

from helpdesk_common.db import ServiceBase


class Base(ServiceBase):
    __abstract__ = True
