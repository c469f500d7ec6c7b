"""One way to page through a listing, in every service: keyset cursors.

A page is ``{"items": [...], "next_cursor": "..."}``; the client passes ``next_cursor`` back
as ``?cursor=`` for the next page, and ``next_cursor`` is null on the last page. The cursor is
opaque to clients (base64url of a JSON list): the listing's name and the sort key values of
the last row returned, so the next query continues with ``WHERE (key, id) > (<values>)``.
Unlike offsets, a page costs the same at row 10 and at row 1,000,000, and rows inserted
meanwhile neither repeat nor vanish between pages.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Query
from pydantic import BaseModel

from helpdesk_common.errors import InvalidInput
from helpdesk_common.inputs import INT4_MAX

T = TypeVar("T")
Row = TypeVar("Row")

CursorQuery = Annotated[
    str | None,
    Query(max_length=500, description="next_cursor of the previous page; omit for the first"),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def encode_cursor(listing: str, *values: Any) -> str:
    """The cursor after a row whose sort key is ``values`` in ``listing``."""
    raw = json.dumps([listing, *(_plain(v) for v in values)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def invalid_cursor() -> InvalidInput:
    return InvalidInput(
        "invalid_cursor", "The cursor is not valid for this listing", field="cursor"
    )


# Strict readers of a cursor's values, for decode_cursor's ``parse``: a tampered cursor must
# be a 422, never a value the database refuses (a 500) or one of another type than the
# column's.

_BIGINT = 2**63


def cursor_text(value: Any) -> str:
    """A string PostgreSQL can compare: no NUL, valid Unicode (JSON can spell a lone
    surrogate, UTF-8 cannot encode one)."""
    if not isinstance(value, str):
        raise TypeError("expected a string")
    if "\x00" in value:
        raise ValueError("a NUL character")
    value.encode()  # UnicodeEncodeError (a ValueError) for a lone surrogate
    return value


def cursor_int(value: Any) -> int:
    """A whole number that fits a BIGINT column and is never negative there (an id, a
    sequence number, a rank)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _BIGINT:
        raise ValueError("expected a non-negative 64-bit integer")
    return value


def cursor_int4(value: Any) -> int:
    """A whole number that fits an INTEGER column (a serial id, a rank), not negative."""
    if cursor_int(value) > INT4_MAX:
        raise ValueError("expected a non-negative 32-bit integer")
    return value


def cursor_uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(cursor_text(value))


def cursor_datetime(value: Any) -> datetime:
    """An ISO 8601 instant with its time zone (as ``encode_cursor`` writes a timestamptz)."""
    parsed = datetime.fromisoformat(cursor_text(value))
    if parsed.tzinfo is None:
        raise ValueError("expected a time zone")
    # The driver sends it in UTC: year 1 east of UTC (or 9999 west of it) overflows there.
    # (The range itself is wider than the API's: a sort key may be a far-future sentinel.)
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None
    return parsed


def decode_cursor(cursor: str, *, listing: str, parse: Sequence[Callable[[Any], Any]]) -> list[Any]:
    """The sort key values in ``cursor``, each converted by its ``parse`` function
    (``cursor_datetime``, ``cursor_uuid``, ``cursor_int``, ``cursor_int4``, ``cursor_text``); 422
    ``invalid_cursor`` for a cursor that is malformed or of another listing or sort order."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(decoded, list) or len(decoded) != len(parse) + 1:
            raise ValueError("wrong shape")
        name, *values = decoded
        if name != listing:
            raise ValueError("cursor of another listing")
        return [convert(value) for convert, value in zip(parse, values, strict=True)]
    except Exception as exc:
        # Whatever a tampered cursor makes a parser raise (uuid.UUID(5) is an
        # AttributeError) is the client's mistake: 422, never a 500.
        raise invalid_cursor() from exc


def after(
    columns: Sequence[sa.SQLColumnExpression[Any]], values: Sequence[Any], *, descending: bool
) -> sa.ColumnElement[bool]:
    """Rows past the cursor's position in a listing ordered by ``columns`` (table columns
    or mapped attributes)."""
    position = sa.tuple_(*columns)
    boundary = sa.tuple_(
        *(
            sa.literal(value, column_type)
            for column_type, value in zip(position.type.types, values, strict=True)
        )
    )
    return position < boundary if descending else position > boundary


def page_of(
    rows: Sequence[Row], *, limit: int, cursor_after: Callable[[Row], str]
) -> tuple[list[Row], str | None]:
    """Cut ``rows`` (fetched with ``LIMIT limit + 1``) to a page and its next cursor."""
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    return page, cursor_after(page[-1])
