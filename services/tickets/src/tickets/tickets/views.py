"""Ticket endpoints: create, read, search, edit, the ten lifecycle actions, comments and
the timeline.

The writes (create, edit, actions, comments) take a plain asyncpg connection from the driver
pool and call ``service``, whose single statements commit by themselves; the reads use a
SQLAlchemy session. Domain errors raised below become HTTP errors in the common error
handler; this module raises ``ApiError`` only for what is HTTP's own (query parameters,
the If-Match precondition).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response

from helpdesk_common.auth import CurrentUser, Principal
from helpdesk_common.db import DriverConnections, DriverPool, SessionDep
from helpdesk_common.errors import ApiError
from helpdesk_common.idempotency import IdempotentRoute
from helpdesk_common.inputs import INT4_MAX
from helpdesk_common.responses import errors
from tickets.http import etag, expected_version
from tickets.metrics import LIST_COUNTS_DEFERRED, LIST_COUNTS_TIMED_OUT, TICKET_ACTIONS
from tickets.runtime import RuntimeDep, TicketsRuntime
from tickets.shared import Loaded
from tickets.tickets import lifecycle, queries, service
from tickets.tickets.changes import Change
from tickets.tickets.filters import TicketSelectionDep
from tickets.tickets.numbering import TICKET_PATH, TICKET_REF_PATTERN
from tickets.tickets.policy import STATUS_LABELS, STATUSES
from tickets.tickets.present import comment_out, ticket_out, timeline_out
from tickets.tickets.schemas import (
    AssignBody,
    CommentCreate,
    CommentOut,
    OptionalReasonBody,
    ReasonBody,
    ResolveBody,
    TicketCount,
    TicketCreate,
    TicketOut,
    TicketPage,
    TicketUpdate,
    TimelineOut,
    VersionedBody,
)

router = APIRouter(tags=["tickets"], route_class=IdempotentRoute)
IfMatch = Annotated[str | None, Header(alias="If-Match")]
TicketRef = Annotated[
    str,
    Path(
        description="a ticket's id (UUID) or number (TKT-2026-000123)",
        max_length=64,
        # Declared; the path's convertor enforces it (404 for anything else).
        json_schema_extra={"pattern": TICKET_REF_PATTERN},
    ),
]


def utcnow() -> datetime:
    return datetime.now(UTC)


async def present(
    loaded: Loaded,
    *,
    runtime: TicketsRuntime,
    principal: Principal,
    response: Response,
    action: str | None = None,
) -> TicketOut:
    """The ticket as the caller sees it; ``action`` names a change that just committed."""
    if action is not None:
        TICKET_ACTIONS.labels(action).inc()
    response.headers["ETag"] = etag(loaded.ticket.version)
    master = await runtime.masterdata.get()
    return ticket_out(loaded, runtime=runtime, master=master, principal=principal, now=utcnow())


@router.get("/policy", tags=["policy"])
async def get_policy(_: CurrentUser, runtime: RuntimeDep) -> dict[str, Any]:
    """The transition table and the roles per action, as this deployment enforces them."""
    policy = runtime.policy
    return {
        "statuses": [{"status": s, "label": STATUS_LABELS[s]} for s in STATUSES],
        "actions": {action: sorted(roles) for action, roles in policy.roles.items()},
        "transitions": policy.matrix(),
    }


@router.post("/tickets", responses=errors(403), status_code=201)
async def create_ticket(
    body: TicketCreate,
    principal: CurrentUser,
    pool: DriverPool,
    runtime: RuntimeDep,
    response: Response,
) -> TicketOut:
    async with pool.acquire() as connection:
        loaded = await service.create_ticket(
            connection, runtime, principal=principal, data=body, now=utcnow()
        )
    response.headers["Location"] = f"/tickets/{loaded.ticket.id}"
    return await present(
        loaded, runtime=runtime, principal=principal, response=response, action="create"
    )


@router.get("/tickets")
async def list_tickets(
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    selection: TicketSelectionDep,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=INT4_MAX, description="over the maximum page size: that")
    ] = None,
) -> TicketPage:
    settings = runtime.settings
    started = time.monotonic()
    page_size = min(limit or settings.page_size_default, settings.page_size_max)
    now = utcnow()
    items, next_cursor = await queries.search_tickets(
        session,
        principal=principal,
        filters=selection.filters,
        sort=selection.sort,
        cursor=cursor,
        limit=page_size,
        now=now,
    )
    total: tuple[int, bool] | None = None
    if cursor is None:  # the first page tells how many there are, if it can count in time
        total = await queries.count_tickets_within(
            session,
            principal=principal,
            filters=selection.filters,
            now=now,
            cap=settings.count_threshold,
            # What the page's query left of the first page's budget.
            timeout_ms=settings.first_page_budget_ms - int((time.monotonic() - started) * 1000),
        )
        if total is None:
            LIST_COUNTS_DEFERRED.inc()
    master = await runtime.masterdata.get()
    return TicketPage(
        items=[
            ticket_out(item, runtime=runtime, master=master, principal=principal, now=now)
            for item in items
        ],
        next_cursor=next_cursor,
        total=total[0] if total else None,
        total_exact=total[1] if total else None,
        total_deferred=cursor is None and total is None,
    )


@router.get("/tickets/count")
async def count_tickets(
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    selection: TicketSelectionDep,
) -> TicketCount:
    """How many tickets GET /tickets with the same filters holds for the caller (the total
    its first page tells when it can count in time: total_deferred), capped like it; the
    sort is accepted and ignored. Bounded by TICKETS_COUNT_TIMEOUT_MS: past it, total null."""
    settings = runtime.settings
    total = await queries.count_tickets_within(
        session,
        principal=principal,
        filters=selection.filters,
        now=utcnow(),
        cap=settings.count_threshold,
        timeout_ms=settings.count_timeout_ms,
    )
    if total is None:
        LIST_COUNTS_TIMED_OUT.inc()
        return TicketCount(total=None, total_exact=False)
    return TicketCount(total=total[0], total_exact=total[1])


@router.get(TICKET_PATH)
async def get_ticket(
    ticket_id: TicketRef,
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> TicketOut:
    loaded = await queries.load_ticket(session, principal=principal, ref=ticket_id)
    return await present(loaded, runtime=runtime, principal=principal, response=response)


@router.patch(TICKET_PATH, responses=errors(403, 409, 428))
async def update_ticket(
    ticket_id: TicketRef,
    body: TicketUpdate,
    principal: CurrentUser,
    pool: DriverPool,
    runtime: RuntimeDep,
    response: Response,
    if_match: IfMatch = None,
) -> TicketOut:
    version = expected_version(if_match, body.version)
    if version is None:
        raise ApiError(
            428,
            "precondition_required",
            "Send the version you edited (If-Match header with the ETag, or 'version')"
            " so that no one else's change is overwritten",
            field="version",
        )
    async with pool.acquire() as connection:
        loaded = await service.update_ticket(
            connection,
            runtime,
            principal=principal,
            ref=ticket_id,
            data=body,
            expected_version=version,
            now=utcnow(),
        )
    return await present(
        loaded, runtime=runtime, principal=principal, response=response, action="edit"
    )


# -- the lifecycle actions: POST /tickets/{ticket_id}/<action> ------------------------------
#
# Each takes the version the client saw as If-Match or "version" in the body (optional;
# stale: 412); bodies with a default of None may be omitted. What differs between them is
# the action's function in lifecycle.py and its arguments; the rest is ActionRequest.run.


@dataclass
class ActionRequest:
    """What every lifecycle action's request carries besides its body."""

    ticket_id: str
    principal: Principal
    pool: DriverConnections
    runtime: TicketsRuntime
    response: Response
    if_match: str | None

    async def run(
        self, action: str, body: VersionedBody | None, decide: Callable[[Change], None]
    ) -> TicketOut:
        """Run ``decide`` (the action) on the ticket as ``action`` and answer with it."""
        async with self.pool.acquire() as connection:
            change = await service.act(
                connection,
                self.runtime,
                principal=self.principal,
                ref=self.ticket_id,
                action=action,
                expected_version=self.version(body),
                now=utcnow(),
                decide=decide,
            )
        return await self.answer(change.loaded, action)

    def version(self, body: VersionedBody | None) -> int | None:
        return expected_version(self.if_match, body.version if body else None)

    async def answer(self, loaded: Loaded, action: str) -> TicketOut:
        return await present(
            loaded,
            runtime=self.runtime,
            principal=self.principal,
            response=self.response,
            action=action,
        )


async def action_request(
    ticket_id: TicketRef,
    principal: CurrentUser,
    pool: DriverPool,
    runtime: RuntimeDep,
    response: Response,
    if_match: IfMatch = None,
) -> ActionRequest:
    return ActionRequest(ticket_id, principal, pool, runtime, response, if_match)


Action = Annotated[ActionRequest, Depends(action_request)]


@router.post(f"{TICKET_PATH}/claim", responses=errors(403, 409))
async def claim(request: Action, body: Annotated[VersionedBody | None, Body()] = None) -> TicketOut:
    """Take an unassigned ticket (a new one is accepted at the same time)."""
    return await request.run("claim", body, lifecycle.claim)


@router.post(f"{TICKET_PATH}/assign", responses=errors(403, 409))
async def assign(request: Action, body: AssignBody) -> TicketOut:
    # The assignee's name is looked up before the ticket is read (service.assign).
    async with request.pool.acquire() as connection:
        loaded = await service.assign(
            connection,
            request.runtime,
            principal=request.principal,
            ref=request.ticket_id,
            assignee_id=body.assignee_id,
            expected_version=request.version(body),
            now=utcnow(),
        )
    return await request.answer(loaded, "assign")


@router.post(f"{TICKET_PATH}/accept", responses=errors(403, 409))
async def accept(
    request: Action, body: Annotated[VersionedBody | None, Body()] = None
) -> TicketOut:
    """Verification passed: in progress (and held by the caller if nobody holds it)."""
    return await request.run("accept", body, lifecycle.accept)


@router.post(f"{TICKET_PATH}/reject", responses=errors(403, 409))
async def reject(request: Action, body: ReasonBody) -> TicketOut:
    return await request.run(
        "reject", body, lambda change: lifecycle.reject(change, reason=body.reason)
    )


@router.post(f"{TICKET_PATH}/pending", responses=errors(403, 409))
async def hold(request: Action, body: ReasonBody) -> TicketOut:
    """Waiting for the requester: the SLA clock stops until resume."""
    return await request.run(
        "pending", body, lambda change: lifecycle.hold(change, reason=body.reason)
    )


@router.post(f"{TICKET_PATH}/resume", responses=errors(403, 409))
async def resume(
    request: Action, body: Annotated[OptionalReasonBody | None, Body()] = None
) -> TicketOut:
    reason = body.reason if body else None
    return await request.run("resume", body, lambda change: lifecycle.resume(change, reason=reason))


@router.post(f"{TICKET_PATH}/resolve", responses=errors(403, 409))
async def resolve(request: Action, body: ResolveBody) -> TicketOut:
    summary = body.result_summary
    return await request.run(
        "resolve", body, lambda change: lifecycle.resolve(change, result_summary=summary)
    )


@router.post(f"{TICKET_PATH}/confirm", responses=errors(403, 409))
async def confirm(
    request: Action, body: Annotated[VersionedBody | None, Body()] = None
) -> TicketOut:
    """The requester accepts the result: closed."""
    return await request.run("confirm", body, lifecycle.confirm)


@router.post(f"{TICKET_PATH}/reopen", responses=errors(403, 409))
async def reopen(request: Action, body: ReasonBody) -> TicketOut:
    return await request.run(
        "reopen", body, lambda change: lifecycle.reopen(change, reason=body.reason)
    )


@router.post(f"{TICKET_PATH}/close", responses=errors(403, 409))
async def close(
    request: Action, body: Annotated[OptionalReasonBody | None, Body()] = None
) -> TicketOut:
    reason = body.reason if body else None
    return await request.run("close", body, lambda change: lifecycle.close(change, reason=reason))


# -- comments and the timeline -------------------------------------------------------------


@router.get(f"{TICKET_PATH}/comments")
async def list_comments(
    ticket_id: TicketRef, principal: CurrentUser, session: SessionDep
) -> list[CommentOut]:
    loaded = await queries.load_ticket(session, principal=principal, ref=ticket_id)
    comments = await queries.list_comments(session, principal=principal, ticket_id=loaded.ticket.id)
    return [comment_out(c) for c in comments]


@router.post(f"{TICKET_PATH}/comments", responses=errors(403, 409), status_code=201)
async def add_comment(
    ticket_id: TicketRef,
    body: CommentCreate,
    principal: CurrentUser,
    pool: DriverPool,
    runtime: RuntimeDep,
) -> CommentOut:
    async with pool.acquire() as connection:
        comment = await service.add_comment(
            connection,
            runtime,
            principal=principal,
            ref=ticket_id,
            body=body.body,
            internal=body.internal,
            now=utcnow(),
        )
    TICKET_ACTIONS.labels("comment_internal" if body.internal else "comment").inc()
    return comment_out(comment)


@router.get(f"{TICKET_PATH}/timeline")
async def timeline(
    ticket_id: TicketRef, principal: CurrentUser, session: SessionDep
) -> list[TimelineOut]:
    """The ticket's history, oldest first; requesters do not see internal entries."""
    loaded = await queries.load_ticket(session, principal=principal, ref=ticket_id)
    entries = await queries.list_timeline(session, principal=principal, ticket_id=loaded.ticket.id)
    return [timeline_out(e) for e in entries]
