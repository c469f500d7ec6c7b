"""The declarative base of every table of the notifications service (declared without a
schema: ``search_path`` picks it)."""

from __future__ import annotations

from helpdesk_common.db import ServiceBase
from helpdesk_common.directory import include_directory_tables


class Base(ServiceBase):
    __abstract__ = True


# The directory replica's users and units (helpdesk_common.directory) live in this schema too:
# the migrations are compared with the whole schema.
include_directory_tables(Base.metadata)


_MAX_BIGINT = 2**63 - 1


def parse_seq(value: object) -> int:
    """A ``seq`` (the identity column that orders a listing) read back from a cursor: an
    integer that fits the column, so a forged cursor is a 422, not a database error."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_BIGINT:
        raise ValueError("not a seq")
    return value
