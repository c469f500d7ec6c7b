"""The declarative base of every table of the tickets service (declared without a schema)."""

from __future__ import annotations

from helpdesk_common.db import ServiceBase
from helpdesk_common.directory import include_directory_tables


class Base(ServiceBase):
    __abstract__ = True


# The directory replica's users and units (helpdesk_common.directory) live in this schema too;
# tickets refer to units, and migrations are compared with the whole schema.
include_directory_tables(Base.metadata)
