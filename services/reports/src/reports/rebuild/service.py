"""Rebuilding the read model from the system of record, without stopping anything.

A rebuild fills a new generation beside the live one: from the moment it starts, every
event is projected into both, while the rebuild pages through the tickets service's
snapshots of every ticket (``GET /internal/ticket-snapshots``) into the new one. The version
check decides between a page and a live event whichever comes first. When the last page is
in, one update switches the figures to the new generation, and the old one is deleted in
the background. Meanwhile the figures keep coming from the old generation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts.tickets import TicketSnapshot
from helpdesk_common.errors import Conflict
from reports.readmodel.models import (
    ROLLUP_TABLES,
    duration_histogram,
    read_model_state,
    rebuild_progress,
    ticket_facts,
)
from reports.readmodel.state import ModelState, read_state
from reports.readmodel.store import apply_snapshots


async def request_rebuild(session: AsyncSession, *, requested_by: str) -> ModelState:
    """Start a rebuild (409 while one runs); the rebuild worker carries it out."""
    state = await read_state(session, lock="update")
    if state.building is not None:
        raise Conflict(
            "rebuild_in_progress",
            f"A rebuild is already running (generation {state.building},"
            f" {state.build_tickets} tickets so far)",
        )
    generation = max(state.active, state.purging or 0) + 1
    await session.execute(
        sa.update(read_model_state)
        .where(read_model_state.c.id == 1)
        .values(
            building=generation,
            build_started_at=datetime.now(UTC),
            build_requested_by=requested_by,
            last_error=None,
        )
    )
    await session.execute(sa.delete(rebuild_progress))
    await session.execute(sa.insert(rebuild_progress).values(generation=generation))
    return await read_state(session)


async def apply_page(
    session: AsyncSession,
    *,
    generation: int,
    snapshots: list[TicketSnapshot],
    next_cursor: str | None,
    timezone: ZoneInfo,
) -> None:
    """One page of the backfill and the rebuild's progress, in one transaction."""
    # Like a projection: the switch-over waits for it (and it never waits for the switch).
    await read_state(session, lock="share")
    await apply_snapshots(session, snapshots, generations=[generation], timezone=timezone)
    await session.execute(
        sa.update(rebuild_progress)
        .where(rebuild_progress.c.generation == generation)
        .values(cursor=next_cursor, tickets=rebuild_progress.c.tickets + len(snapshots))
    )


async def switch_over(session: AsyncSession, *, generation: int) -> None:
    """The figures read the rebuilt generation from now on; the old one is to be purged.

    The row lock waits for the projections in flight (they hold it ``FOR SHARE``), so
    every event is in both generations or arrives after the switch.
    """
    state = await read_state(session, lock="update")
    if state.building != generation:
        return
    await session.execute(
        sa.update(read_model_state)
        .where(read_model_state.c.id == 1)
        .values(
            active=generation,
            building=None,
            built_at=datetime.now(UTC),
            purging=state.active,
        )
    )


async def analyze(session: AsyncSession) -> None:
    """Fresh planner statistics for the read model's tables."""
    for table in (ticket_facts.name, *ROLLUP_TABLES, duration_histogram.name):
        await session.execute(sa.text(f"ANALYZE {table}"))


async def record_error(session: AsyncSession, *, error: str) -> None:
    await session.execute(
        sa.update(read_model_state).where(read_model_state.c.id == 1).values(last_error=error)
    )


async def purge_step(session: AsyncSession, *, generation: int, batch_size: int) -> bool:
    """Delete up to ``batch_size`` rows of a replaced generation from each table; True
    once none is left (then the generation is forgotten)."""
    left = False
    for table in (ticket_facts.name, *ROLLUP_TABLES, duration_histogram.name):
        result = await session.execute(
            sa.text(
                f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
                f"SELECT ctid FROM {table} WHERE generation = :g LIMIT :n))"
            ),
            {"g": generation, "n": batch_size},
        )
        if result.rowcount == batch_size:  # type: ignore[attr-defined]
            left = True
    if not left:
        await session.execute(
            sa.update(read_model_state)
            .where(read_model_state.c.id == 1, read_model_state.c.purging == generation)
            .values(purging=None)
        )
    return not left
