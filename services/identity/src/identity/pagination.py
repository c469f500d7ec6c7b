"""Offset pagination shared by every list endpoint: ``?limit=&offset=`` -> ``Page``."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


class PageParams(BaseModel):
    limit: int = 50
    offset: int = 0


def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="page size")] = 50,
    offset: Annotated[int, Query(ge=0, description="items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


async def fetch_page(
    session: AsyncSession, query: sa.Select, *, page: PageParams
) -> tuple[list, int]:
    """Rows of one page of ``query`` (already ordered) and the total count."""
    total = await session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = (await session.scalars(query.limit(page.limit).offset(page.offset))).all()
    return list(rows), int(total or 0)


def contains(column: sa.ColumnElement[str], text: str) -> sa.ColumnElement[bool]:
    """Case-insensitive substring match; the user's ``%`` and ``_`` match literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
