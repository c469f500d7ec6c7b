"""Queue endpoints: the caller's views with their counts (``/views``) and bulk actions on
tickets (``POST /tickets/bulk``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response

from helpdesk_common.auth import CurrentUser
from helpdesk_common.db import DriverPool, SessionDep
from helpdesk_common.idempotency import IdempotentRoute
from helpdesk_common.responses import errors
from tickets.queues import service
from tickets.queues.schemas import BulkBody, BulkOut, ViewCreate, ViewOut, ViewUpdate
from tickets.runtime import RuntimeDep

router = APIRouter(tags=["queues"], route_class=IdempotentRoute)
ViewId = Annotated[
    str, Path(description="a saved view's id (built-in views: their key)", max_length=64)
]


def utcnow() -> datetime:
    return datetime.now(UTC)


@router.get("/views")
async def list_views(
    principal: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> list[ViewOut]:
    """The built-in views of the caller's role, then the caller's saved views in their
    order, each with how many tickets it holds (exact up to the count threshold)."""
    return await service.list_views(session, principal=principal, runtime=runtime, now=utcnow())


@router.post(
    "/views",
    status_code=201,
    responses=errors(409, s409="The caller already has the most saved views allowed"),
)
async def create_view(
    body: ViewCreate,
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> ViewOut:
    """Save filters (the list's query parameters) as a view of one's own, placed last."""
    now = utcnow()
    async with session.begin():
        view = await service.create_view(
            session,
            principal=principal,
            runtime=runtime,
            name=body.name,
            params=body.params.model_dump(exclude_unset=True),
            now=now,
        )
        count = await service.count_view(
            session, principal=principal, runtime=runtime, view=view, now=now
        )
    response.headers["Location"] = f"/views/{view.id}"
    return service.view_out(view, count=count)


@router.patch("/views/{view_id}", responses=errors(403))
async def update_view(
    view_id: ViewId,
    body: ViewUpdate,
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ViewOut:
    """Rename a saved view, change its filters or move it (``position``)."""
    now = utcnow()
    async with session.begin():
        view = await service.update_view(
            session,
            principal=principal,
            runtime=runtime,
            view_id=view_id,
            changes=body.model_dump(exclude_unset=True),
            now=now,
        )
        count = await service.count_view(
            session, principal=principal, runtime=runtime, view=view, now=now
        )
    return service.view_out(view, count=count)


@router.delete("/views/{view_id}", responses=errors(403), status_code=204)
async def delete_view(view_id: ViewId, principal: CurrentUser, session: SessionDep) -> Response:
    async with session.begin():
        await service.delete_view(session, principal=principal, view_id=view_id)
    return Response(status_code=204)


@router.post("/tickets/bulk", responses=errors(403))
async def bulk(
    body: BulkBody, principal: CurrentUser, pool: DriverPool, runtime: RuntimeDep
) -> BulkOut:
    """One action (assign, priority, close) on up to 100 tickets, each through the single
    action's rules; every ticket's outcome is reported, one failing stops none of the others."""
    async with pool.acquire() as connection:
        results = await service.apply_bulk(
            connection, runtime, principal=principal, body=body, now=utcnow()
        )
    return BulkOut(results=results)
