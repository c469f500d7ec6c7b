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

from reports.readmodel.models import read_model_state, rebuild_progress


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
    state, progress = read_model_state, rebuild_progress
    query = (
        sa.select(
            *(c for c in state.c if c.name != "id"),
            progress.c.cursor.label("build_cursor"),
            sa.func.coalesce(progress.c.tickets, 0).label("build_tickets"),
        )
        .select_from(state.outerjoin(progress, progress.c.generation == state.c.building))
        .where(state.c.id == 1)
    )
    if lock == "share":
        query = query.with_for_update(read=True, of=state)
    elif lock == "update":
        query = query.with_for_update(of=state)
    row = (await session.execute(query)).mappings().one()
    return ModelState(**row)


async def active_generation(session: AsyncSession) -> int:
    row = await session.execute(
        sa.select(read_model_state.c.active).where(read_model_state.c.id == 1)
    )
    return int(row.scalar_one())
