"""Which generation of the read model the figures read and which ones events are written to.

One row (``read_model_state``). Projections read it ``FOR SHARE`` in their transaction, so a
rebuild's switch-over (an ``UPDATE`` of the row) waits for the projections in flight and
every later one sees the new generations: no event is written to one generation only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from reports.readmodel.models import read_model_state


@dataclass(frozen=True)
class ModelState:
    active: int
    building: int | None
    built_at: datetime | None
    build_started_at: datetime | None
    build_cursor: str | None
    build_tickets: int
    build_requested_by: str | None
    last_error: str | None
    purging: int | None

    @property
    def written(self) -> list[int]:
        """The generations an event is projected into."""
        return [self.active] if self.building is None else [self.active, self.building]


async def read_state(session: AsyncSession, *, lock: str | None = None) -> ModelState:
    """The state row; ``lock``: None, ``"share"`` (projections) or ``"update"`` (rebuild)."""
    query = sa.select(read_model_state).where(read_model_state.c.id == 1)
    if lock == "share":
        query = query.with_for_update(read=True)
    elif lock == "update":
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().one()
    return ModelState(**{k: v for k, v in row.items() if k != "id"})


async def active_generation(session: AsyncSession) -> int:
    row = await session.execute(
        sa.select(read_model_state.c.active).where(read_model_state.c.id == 1)
    )
    return int(row.scalar_one())
