"""``GET /stream``: server-sent events telling a page that tickets it shows have changed.

``event: ready`` when the stream opens (fetch what you show), then ``event: ticket`` with
``{"id", "number", "version", "event"}`` for each change the caller may see (the API's
unit scoping; a requester never hears of internal notes or staff-only SLA events),
``event: resync`` when changes may have been missed, and a comment line as a heartbeat so
that proxies keep the connection open. The event carries no ticket data: the page fetches
with the caller's rights. A stream ends after ``stream_max_seconds`` (the browser reconnects
with a fresh token) or as soon as its token no longer counts: its user was disabled, or
their role or unit changed (helpdesk_common.standing).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from helpdesk_common.auth import CurrentUser
from helpdesk_common.errors import BrokerUnavailable
from helpdesk_common.standing import standing_error
from tickets.live.feed import RESYNC, Recheck, Subscriber
from tickets.runtime import RuntimeDep, TicketsRuntime

router = APIRouter(tags=["live"])
RESYNC_MESSAGE = "event: resync\ndata: {}\n\n"
BATCH = 100  # changes written at once at most


async def _events(
    subscriber: Subscriber, runtime: TicketsRuntime, request: Request
) -> AsyncIterator[str]:
    settings = runtime.settings
    principal = subscriber.principal
    try:
        yield "retry: 2000\nevent: ready\ndata: {}\n\n"
        ends = time.monotonic() + settings.stream_max_seconds
        while time.monotonic() < ends and not await request.is_disconnected():
            if standing_error(runtime.user_standings, principal) is not None:
                return  # disabled, or its role or unit changed: the token no longer counts
            try:
                change = await asyncio.wait_for(
                    subscriber.queue.get(), settings.stream_heartbeat_seconds
                )
            except TimeoutError:
                yield ": ping\n\n"
                continue
            if isinstance(change, Recheck):
                continue  # the user's standing changed: checked above
            # What queued up meanwhile goes in the same write: under load, one chunk (one
            # trip through the gateway) carries many changes.
            batch = [change]
            while not subscriber.queue.empty() and len(batch) < BATCH:
                queued = subscriber.queue.get_nowait()
                if not isinstance(queued, Recheck):  # checked before the next wait
                    batch.append(queued)
            yield "".join(RESYNC_MESSAGE if c is RESYNC else c.message for c in batch)
    finally:
        runtime.live.unsubscribe(subscriber)


@router.get("/stream", response_class=StreamingResponse)
async def stream(
    principal: CurrentUser, runtime: RuntimeDep, request: Request
) -> StreamingResponse:
    """Server-sent events: ``ticket`` for each change to a ticket the caller may see.
    503 ``broker_unavailable`` while this replica has no broker connection: such a stream
    would stay silent however tickets change (the browser tries again shortly)."""
    if not runtime.bus.is_connected:
        raise BrokerUnavailable("the live feed has no connection to the message broker")
    subscriber = runtime.live.subscribe(principal)
    return StreamingResponse(
        _events(subscriber, runtime, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
