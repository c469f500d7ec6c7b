"""The declarative base of every table of the reports service (declared without a schema:
``search_path`` picks it)."""

from __future__ import annotations

from helpdesk_common.db import ServiceBase
from helpdesk_common.directory import include_directory_tables


class Base(ServiceBase):
    __abstract__ = True


# The directory replica's users and units (helpdesk_common.directory) name units and agents.
include_directory_tables(Base.metadata)
