"""The service-to-service API (``/internal/...``): no user token but the shared internal
token (``X-Internal-Token``, helpdesk_common.auth); the gateway never forwards these paths.

``GET /internal/ticket-snapshots`` lets a read model (the reports service) rebuild itself
from the system of record: every ticket as its events show it, built by the one
``tickets.shared.snapshot``, in keyset pages on the primary key.
"""

from __future__ import annotations

import uuid
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Response

from helpdesk_common.auth import require_internal_caller
from helpdesk_common.contracts.tickets import TicketSnapshot
from helpdesk_common.db import DriverPool
from helpdesk_common.errors import NotFound
from helpdesk_common.pagination import (
    CursorQuery,
    Page,
    cursor_uuid,
    decode_cursor,
    encode_cursor,
    page_of,
)
from tickets.runtime import RuntimeDep, TicketsRuntime
from tickets.shared import Loaded, snapshot
from tickets.tickets import store
from tickets.tickets.record import TicketRecord

# Every route here requires the internal token.
router = APIRouter(
    prefix="/internal", tags=["internal"], dependencies=[Depends(require_internal_caller)]
)

SNAPSHOTS_LISTING = "ticket-snapshots"
SNAPSHOTS_LIMIT_DEFAULT = 500
SNAPSHOTS_LIMIT_MAX = 2000


def snapshots_after(cursor: str | None) -> uuid.UUID | None:
    """The id a page starts after (422 ``invalid_cursor`` for a cursor not of this listing)."""
    if not cursor:
        return None
    (after,) = decode_cursor(cursor, listing=SNAPSHOTS_LISTING, parse=[cursor_uuid])
    return cast(uuid.UUID, after)


async def snapshot_page(
    rows: list[Loaded[TicketRecord]], runtime: TicketsRuntime, *, limit: int
) -> Page[TicketSnapshot]:
    """The page of ``rows`` (read with ``limit + 1``): their snapshots, with the master
    data's names from the cache, and the cursor after the last."""
    page, next_cursor = page_of(
        rows,
        limit=limit,
        cursor_after=lambda loaded: encode_cursor(SNAPSHOTS_LISTING, loaded.ticket.id),
    )
    master = await runtime.masterdata.get()
    unknown = next(
        (
            loaded.ticket
            for loaded in page
            if loaded.ticket.priority not in master.priorities
            or (
                loaded.ticket.category_id is not None
                and loaded.ticket.category_id not in master.categories
            )
        ),
        None,
    )
    if unknown is not None:
        # Made through another replica a moment ago: reload rather than leave out its name.
        master = await runtime.masterdata.get_fresh_if_missing(
            category_id=unknown.category_id, priority=unknown.priority
        )
    web_base_url = runtime.settings.web_base_url
    return Page[TicketSnapshot](
        items=[snapshot(loaded, master=master, web_base_url=web_base_url) for loaded in page],
        next_cursor=next_cursor,
    )


@router.get("/ticket-snapshots", response_model=Page[TicketSnapshot])
async def ticket_snapshots(
    pool: DriverPool,
    runtime: RuntimeDep,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=SNAPSHOTS_LIMIT_MAX)] = SNAPSHOTS_LIMIT_DEFAULT,
) -> Response:
    """Every ticket as its ``ticket.*`` events show it (``TicketSnapshot``, the same JSON),
    ordered by id, in pages: pass ``next_cursor`` back as ``cursor`` until it is null."""
    after = snapshots_after(cursor)
    # One statement per page (the tickets with their units' names from the local
    # directory); the connection goes back before the snapshots are built.
    async with pool.acquire() as connection:
        rows = await store.tickets_after(connection, after, limit=limit + 1)
    page = await snapshot_page(rows, runtime, limit=limit)
    # Serialised once, by pydantic, as the outbox serialises events (FastAPI's response
    # model would dump, validate and serialise each of up to 2000 snapshots again).
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/ticket-snapshots/{ticket_id}", response_model=TicketSnapshot)
async def ticket_snapshot(ticket_id: uuid.UUID, pool: DriverPool, runtime: RuntimeDep) -> Response:
    """One ticket as its events show it: a service that has not yet heard of a ticket just
    created (the attachments service, when files follow the new ticket at once) asks here
    rather than refusing it. 404 when no such ticket exists."""
    async with pool.acquire() as connection:
        found = await store.read_ticket(connection, ticket_id, unit_id=None)
    if found is None:
        raise NotFound("ticket_not_found", "Ticket not found")
    page = await snapshot_page([found[0]], runtime, limit=1)
    return Response(page.items[0].model_dump_json(), media_type="application/json")
