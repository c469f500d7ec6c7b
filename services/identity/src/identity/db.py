"""The declarative base of every table of the identity service (declared without a schema)."""

from __future__ import annotations

from helpdesk_common.db import ServiceBase


class Base(ServiceBase):
    __abstract__ = True
