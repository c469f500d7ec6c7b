"""The rebuild worker: one replica at a time (a PostgreSQL advisory lock) carries out the
rebuild requested in ``read_model_state``, page by page, and purges what it replaced.

Resumable: each page commits the cursor of the next, so a replica that stops mid-rebuild
leaves the rest to whichever replica takes the lock next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from pydantic import BaseModel

from helpdesk_common.contracts.tickets import TicketSnapshot
from reports.readmodel.state import read_state
from reports.rebuild import service
from reports.runtime import ReportsRuntime

log = logging.getLogger("reports.rebuild")

_FIRST_START = "first start"


class SnapshotPage(BaseModel):
    items: list[TicketSnapshot]
    next_cursor: str | None = None


class BackfillFailed(RuntimeError):
    pass


async def fetch_page(
    client: aiohttp.ClientSession, runtime: ReportsRuntime, cursor: str | None
) -> SnapshotPage:
    settings = runtime.settings
    params = {"limit": str(settings.rebuild_page_size)}
    if cursor:
        params["cursor"] = cursor
    url = f"{settings.tickets_url.rstrip('/')}/internal/ticket-snapshots"
    async with client.get(
        url, params=params, headers={"X-Internal-Token": settings.internal_token}
    ) as response:
        if response.status != 200:
            raise BackfillFailed(f"{url}: HTTP {response.status}: {(await response.text())[:300]}")
        return SnapshotPage.model_validate_json(await response.read())


async def rebuild_worker(runtime: ReportsRuntime) -> None:
    """Wait for the leader lock, then run rebuilds and purges as they are asked for."""
    dsn = runtime.settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    while True:
        try:
            connection = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("rebuild worker cannot reach the database yet: %r", exc)
            await asyncio.sleep(2)
            continue
        try:
            # One leader per schema; the others wait their turn (a session lock, freed when
            # the leader's connection ends).
            await connection.execute("SELECT pg_advisory_lock($1)", _lock_key(runtime))
            log.info("this replica runs the read model's rebuilds")
            await _lead(runtime)
        finally:
            await connection.close()


def _lock_key(runtime: ReportsRuntime) -> int:
    return zlib.crc32(f"reports:rebuild:{runtime.settings.schema_name}".encode())


async def _lead(runtime: ReportsRuntime) -> None:
    settings = runtime.settings
    # Events committed after a page is read must reach this service's queue: page only once
    # the consumers are consuming (on a first start the queue may not have existed before).
    while not runtime.consumers_started:  # noqa: ASYNC110 (a flag the app factory sets)
        await asyncio.sleep(0.1)
    timezone = ZoneInfo(settings.timezone)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        while True:
            async with runtime.sessionmaker() as session, session.begin():
                state = await read_state(session)
                never_built = state.building is None and state.built_at is None
                if never_built and settings.rebuild_on_first_start:
                    state = await service.request_rebuild(session, requested_by=_FIRST_START)
            if state.building is not None:
                await _build(runtime, client, state.building, state.build_cursor, timezone)
            elif state.purging is not None:
                async with runtime.sessionmaker() as session, session.begin():
                    done = await service.purge_step(
                        session, generation=state.purging, batch_size=settings.purge_batch_size
                    )
                if not done:
                    continue
            else:
                # Asked for on this replica: at once; on another: at the next look.
                with (
                    runtime.rebuild_requested.waiter() as requested,
                    contextlib.suppress(TimeoutError),
                ):
                    await asyncio.wait_for(requested.wait(), settings.rebuild_poll_seconds)


async def _build(
    runtime: ReportsRuntime,
    client: aiohttp.ClientSession,
    generation: int,
    cursor: str | None,
    timezone: ZoneInfo,
) -> None:
    """Page through the tickets into ``generation``, then switch the figures to it.

    The next page is fetched while the current one is projected (the two take about as
    long), so the tickets service and this one work at the same time.
    """
    started = asyncio.get_running_loop().time()
    fetching = asyncio.create_task(fetch_page(client, runtime, cursor))
    try:
        while True:
            try:
                page = await fetching
            except (aiohttp.ClientError, TimeoutError, BackfillFailed) as exc:
                log.warning("rebuild of generation %d: %s; retrying", generation, exc)
                async with runtime.sessionmaker() as session, session.begin():
                    await service.record_error(session, error=str(exc)[:1000])
                await asyncio.sleep(runtime.settings.rebuild_poll_seconds)
                return  # the leader loop resumes from the committed cursor
            if page.next_cursor is not None:
                fetching = asyncio.create_task(fetch_page(client, runtime, page.next_cursor))
            async with runtime.sessionmaker() as session, session.begin():
                await service.apply_page(
                    session,
                    generation=generation,
                    snapshots=page.items,
                    next_cursor=page.next_cursor,
                    timezone=timezone,
                )
            if page.next_cursor is None:
                break
    finally:
        if not fetching.done():
            fetching.cancel()
        # Its outcome no longer matters (and is not to be logged as never retrieved).
        fetching.add_done_callback(lambda task: task.cancelled() or task.exception())
    async with runtime.sessionmaker() as session, session.begin():
        await service.switch_over(session, generation=generation)
        # A million new rows: the planner's statistics from before would misjudge every
        # query (estimated 34 rows for 1.6 M seen at a million tickets).
        await service.analyze(session)
    log.info(
        "read model rebuilt as generation %d in %.1fs",
        generation,
        asyncio.get_running_loop().time() - started,
    )
