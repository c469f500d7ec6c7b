"""The declarative base of every table of the integrations service (declared without a
schema: ``search_path`` picks it)."""

from __future__ import annotations

from helpdesk_common.db import ServiceBase
from helpdesk_common.directory import include_directory_tables


class Base(ServiceBase):
    __abstract__ = True


# The directory replica: a sender's address -> the user and their unit.
include_directory_tables(Base.metadata)
