"""What identity's list endpoints share beyond ``helpdesk_common.pagination``: the page size
parameter and substring search."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query
from sqlalchemy.orm import QueryableAttribute

Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
DEFAULT_LIMIT = 50


def contains(
    column: sa.ColumnElement[Any] | QueryableAttribute[Any], search: str
) -> sa.ColumnElement[bool]:
    """Case-insensitive substring match; the user's ``%`` and ``_`` match literally."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
