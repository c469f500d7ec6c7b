"""``GET /stream``: server-sent events telling a dashboard that its figures changed.

The event carries no figures (the dashboard fetches them with its own filters and the
caller's rights): ``event: changed`` at most every ``stream_min_interval`` seconds, and a
comment line as a heartbeat so proxies keep the connection open. A requester hears only of
changes to their own unit's tickets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from helpdesk_common.auth import CurrentUser
from reports.runtime import RuntimeDep

router = APIRouter(tags=["reports"])


@router.get("/stream", response_class=StreamingResponse)
async def stream(
    principal: CurrentUser, runtime: RuntimeDep, request: Request
) -> StreamingResponse:
    """Server-sent events: ``changed`` whenever the figures may have changed."""
    feed = runtime.changes
    settings = runtime.settings
    unit = principal.unit_id if principal.role == "requester" else None

    async def events() -> AsyncIterator[str]:
        yield "retry: 3000\nevent: ready\ndata: {}\n\n"
        seen = feed.seq
        last_sent = 0.0
        while not await request.is_disconnected():
            seq = await feed.wait(seen, timeout=settings.stream_heartbeat_seconds)
            if seq == seen:
                yield ": ping\n\n"
                continue
            seen = seq
            if not feed.concerns(unit):
                continue
            pause = settings.stream_min_interval - (time.monotonic() - last_sent)
            if pause > 0:
                # Coalesce a burst of changes into one refresh.
                await asyncio.sleep(pause)
                seen = feed.seq
            last_sent = time.monotonic()
            yield f'event: changed\ndata: {{"seq": {seen}}}\n\n'

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
