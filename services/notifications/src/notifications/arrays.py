"""Many rows in one statement: the ids and one array parameter per column, unnested by
PostgreSQL (the statement's text never changes, so asyncpg prepares it once per
connection). Used by the in-app notifications, the e-mail outbox and the digest items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# (column name, PostgreSQL type) in the order of the statement's parameters.
Columns = tuple[tuple[str, str], ...]


def names(columns: Columns) -> str:
    return ", ".join(name for name, _ in columns)


def unnest(columns: Columns, *, first: int) -> str:
    """``unnest($1::uuid[], $<first>::<type>[], ...)``: the new rows' ids, then the columns
    (parameters 2 .. first - 1 are the statement's own)."""
    arrays = ", ".join(f"${n}::{kind}[]" for n, (_, kind) in enumerate(columns, start=first))
    return f"unnest($1::uuid[], {arrays})"


def arrays(rows: Sequence[Mapping[str, Any]], columns: Columns) -> list[list[Any]]:
    """The rows as one list per column (a missing key is NULL)."""
    return [[row.get(name) for row in rows] for name, _ in columns]
