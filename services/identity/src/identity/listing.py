"""What identity's list endpoints share beyond ``helpdesk_common.pagination``: the page size
parameter, strict parsers for the values in a cursor, and substring search."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query
from sqlalchemy.orm import QueryableAttribute

Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
DEFAULT_LIMIT = 50


# Parsers for decode_cursor: a value of the wrong type is a TypeError or ValueError, which
# decode_cursor turns into 422 invalid_cursor (never a 500 for a tampered cursor).


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def uuid_of(value: Any) -> uuid.UUID:
    return uuid.UUID(text(value))


def integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected an integer")
    return value


def aware_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(text(value))
    if parsed.tzinfo is None:
        raise ValueError("expected a time zone")
    return parsed


def contains(
    column: sa.ColumnElement[Any] | QueryableAttribute[Any], search: str
) -> sa.ColumnElement[bool]:
    """Case-insensitive substring match; the user's ``%`` and ``_`` match literally."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
