"""Ticket endpoints. Each route owns its unit of work: one transaction per request."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response

from helpdesk_common.auth import CurrentUser, Principal
from helpdesk_common.db import DriverPool, SessionDep
from helpdesk_common.errors import ApiError
from tickets.http import etag, expected_version
from tickets.metrics import TICKET_ACTIONS
from tickets.tickets import lifecycle, queries, service
from tickets.tickets.env import TicketsEnv, get_env
from tickets.tickets.policy import STATUS_LABELS, STATUSES
from tickets.tickets.present import Loaded, comment_out, ticket_out, timeline_out
from tickets.tickets.schemas import (
    AssignBody,
    CommentCreate,
    CommentOut,
    OptionalReasonBody,
    ReasonBody,
    ResolveBody,
    TicketCreate,
    TicketOut,
    TicketPage,
    TicketUpdate,
    TimelineOut,
    VersionedBody,
)

KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
router = APIRouter(tags=["tickets"])
Env = Annotated[TicketsEnv, Depends(get_env)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
TicketRef = Annotated[
    str, Path(description="a ticket's id (UUID) or number (TKT-2026-000123)", max_length=64)
]


def utcnow() -> datetime:
    return datetime.now(UTC)


async def present(
    loaded: Loaded,
    *,
    env: TicketsEnv,
    principal: Principal,
    response: Response,
    action: str | None = None,
) -> TicketOut:
    """The ticket as the caller sees it; ``action`` names a change that just committed."""
    if action is not None:
        TICKET_ACTIONS.labels(action).inc()
    response.headers["ETag"] = etag(loaded.ticket.version)
    master = await env.masterdata.get()
    return ticket_out(loaded, env=env, master=master, principal=principal, now=utcnow())


@router.get("/policy", tags=["policy"])
async def get_policy(_: CurrentUser, env: Env) -> dict[str, Any]:
    """The transition table and the roles per action, as this deployment enforces them."""
    return {
        "statuses": [{"status": s, "label": STATUS_LABELS[s]} for s in STATUSES],
        "actions": {action: sorted(roles) for action, roles in env.policy.roles.items()},
        "transitions": env.policy.matrix(),
    }


@router.post("/tickets", status_code=201)
async def create_ticket(
    body: TicketCreate, principal: CurrentUser, pool: DriverPool, env: Env, response: Response
) -> TicketOut:
    # The hot path: plain SQL on the driver pool; one statement that commits by itself
    # (see creation.py), so no transaction to open here.
    async with pool.acquire() as connection:
        loaded = await service.create_ticket(
            connection, env=env, principal=principal, data=body, now=utcnow()
        )
    response.headers["Location"] = f"/tickets/{loaded.ticket.id}"
    return await present(loaded, env=env, principal=principal, response=response, action="create")


def _as_instant(value: datetime | date | None, env: TicketsEnv, *, end: bool) -> datetime | None:
    """Dates and naive times are office-local; a date as the upper bound includes the day."""
    if value is None:
        return None
    zone = ZoneInfo(env.settings.timezone)
    if not isinstance(value, datetime):
        day = value.toordinal() + (1 if end else 0)
        return datetime.combine(date.fromordinal(day), time(0), zone)
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _statuses(values: list[str] | None) -> list[str]:
    statuses = [s.strip() for value in values or [] for s in value.split(",") if s.strip()]
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise ApiError(
            422,
            "invalid_status",
            f"Unknown status {', '.join(unknown)}; use {', '.join(STATUSES)}",
            field="status",
        )
    return statuses


@router.get("/tickets")
async def list_tickets(
    principal: CurrentUser,
    session: SessionDep,
    env: Env,
    status: Annotated[list[str] | None, Query(description="repeat or comma-separate")] = None,
    unit_id: uuid.UUID | None = None,
    category_id: uuid.UUID | None = None,
    priority: Annotated[str | None, Query(max_length=50)] = None,
    assignee: Annotated[
        str | None, Query(description="an agent's id, 'me' or 'none'", max_length=40)
    ] = None,
    requester_id: uuid.UUID | None = None,
    created_from: datetime | date | None = None,
    created_to: datetime | date | None = None,
    overdue: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="full-text search")] = None,
    sort: Annotated[str, Query(max_length=20)] = "-created_at",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> TicketPage:
    assignee_id: uuid.UUID | None = None
    unassigned = False
    if assignee == "me":
        assignee_id = principal.user_id
    elif assignee == "none":
        unassigned = True
    elif assignee:
        try:
            assignee_id = uuid.UUID(assignee)
        except ValueError:
            raise ApiError(
                422, "invalid_assignee", "Use an agent's id, 'me' or 'none'", field="assignee"
            ) from None
    settings = env.settings
    page_size = min(limit or settings.page_size_default, settings.page_size_max)
    filters = queries.TicketFilters(
        statuses=_statuses(status),
        unit_id=unit_id,
        category_id=category_id,
        priority=priority,
        assignee_id=assignee_id,
        unassigned=unassigned,
        requester_id=requester_id,
        created_from=_as_instant(created_from, env, end=False),
        created_to=_as_instant(created_to, env, end=True),
        overdue=overdue,
        q=q or None,
    )
    now = utcnow()
    items, next_cursor = await queries.search_tickets(
        session,
        principal=principal,
        filters=filters,
        sort=queries.parse_sort(sort),
        cursor=cursor,
        limit=page_size,
        now=now,
    )
    master = await env.masterdata.get()
    return TicketPage(
        items=[
            ticket_out(item, env=env, master=master, principal=principal, now=now) for item in items
        ],
        next_cursor=next_cursor,
    )


@router.get("/tickets/{ticket_id}")
async def get_ticket(
    ticket_id: TicketRef, principal: CurrentUser, session: SessionDep, env: Env, response: Response
) -> TicketOut:
    loaded = await queries.load_ticket(session, principal=principal, ref=ticket_id)
    return await present(loaded, env=env, principal=principal, response=response)


@router.patch("/tickets/{ticket_id}")
async def update_ticket(
    ticket_id: TicketRef,
    body: TicketUpdate,
    principal: CurrentUser,
    pool: DriverPool,
    env: Env,
    response: Response,
    if_match: IfMatch = None,
) -> TicketOut:
    # Read, then one conditional write that commits by itself (see changes.py).
    async with pool.acquire() as connection:
        loaded = await service.update_ticket(
            connection,
            env=env,
            principal=principal,
            ref=ticket_id,
            data=body,
            expected_version=expected_version(if_match, body.version),
            now=utcnow(),
        )
    return await present(loaded, env=env, principal=principal, response=response, action="edit")


@dataclass(frozen=True)
class ActionRoute:
    """``POST /tickets/{ticket_id}/<action>``: one lifecycle action (see lifecycle.py)."""

    action: str
    # The endpoint function's name: FastAPI makes the OpenAPI operation id and summary of it.
    name: str
    # Its fields but ``version`` are the action's arguments; an optional body may be omitted
    # (its fields are then None).
    body: type[VersionedBody]
    body_required: bool = False
    doc: str | None = None


ACTION_ROUTES = (
    ActionRoute(
        "claim",
        "claim",
        VersionedBody,
        doc="Take an unassigned ticket (a new one is accepted at the same time).",
    ),
    ActionRoute("assign", "assign", AssignBody, body_required=True),
    ActionRoute(
        "accept",
        "accept",
        VersionedBody,
        doc="Verification passed: in progress (and held by the caller if nobody holds it).",
    ),
    ActionRoute("reject", "reject", ReasonBody, body_required=True),
    ActionRoute(
        "pending",
        "hold",
        ReasonBody,
        body_required=True,
        doc="Waiting for the requester: the SLA clock stops until resume.",
    ),
    ActionRoute("resume", "resume", OptionalReasonBody),
    ActionRoute("resolve", "resolve", ResolveBody, body_required=True),
    ActionRoute(
        "confirm", "confirm", VersionedBody, doc="The requester accepts the result: closed."
    ),
    ActionRoute("reopen", "reopen", ReasonBody, body_required=True),
    ActionRoute("close", "close", OptionalReasonBody),
)


_ACTION_PARAMETERS = (
    ("ticket_id", TicketRef),
    ("principal", CurrentUser),
    ("pool", DriverPool),
    ("env", Env),
    ("response", Response),
)


def _action_endpoint(route: ActionRoute) -> Callable[..., Awaitable[TicketOut]]:
    fields = [name for name in route.body.model_fields if name != "version"]

    async def endpoint(
        *,
        ticket_id: str,
        principal: Principal,
        pool: asyncpg.Pool,
        env: TicketsEnv,
        response: Response,
        body: VersionedBody | None = None,
        if_match: str | None = None,
    ) -> TicketOut:
        # Read, then one conditional write that commits by itself (see changes.py).
        async with pool.acquire() as connection:
            loaded = await lifecycle.act(
                connection,
                env=env,
                principal=principal,
                ref=ticket_id,
                action=route.action,
                expected_version=expected_version(if_match, body.version if body else None),
                now=utcnow(),
                **{name: getattr(body, name) for name in fields if body is not None},
            )
        return await present(
            loaded, env=env, principal=principal, response=response, action=route.action
        )

    # FastAPI reads the parameters, and so the body's schema, from the signature.
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            *(
                inspect.Parameter(name, KEYWORD_ONLY, annotation=annotation)
                for name, annotation in _ACTION_PARAMETERS
            ),
            inspect.Parameter("body", KEYWORD_ONLY, annotation=route.body)
            if route.body_required
            else inspect.Parameter(
                "body", KEYWORD_ONLY, annotation=Annotated[route.body | None, Body()], default=None
            ),
            inspect.Parameter("if_match", KEYWORD_ONLY, annotation=IfMatch, default=None),
        ],
        return_annotation=TicketOut,
    )
    endpoint.__name__ = endpoint.__qualname__ = route.name
    endpoint.__doc__ = route.doc
    return endpoint


for _route in ACTION_ROUTES:
    router.post(f"/tickets/{{ticket_id}}/{_route.action}")(_action_endpoint(_route))


@router.get("/tickets/{ticket_id}/comments")
async def list_comments(
    ticket_id: TicketRef, principal: CurrentUser, session: SessionDep
) -> list[CommentOut]:
    loaded = await queries.load_ticket(session, principal=principal, ref=ticket_id)
    comments = await queries.list_comments(session, principal=principal, ticket_id=loaded.ticket.id)
    return [comment_out(c) for c in comments]


@router.post("/tickets/{ticket_id}/comments", status_code=201)
async def add_comment(
    ticket_id: TicketRef,
    body: CommentCreate,
    principal: CurrentUser,
    session: SessionDep,
    env: Env,
) -> CommentOut:
    async with session.begin():
        _, comment = await service.add_comment(
            session,
            env=env,
            principal=principal,
            ref=ticket_id,
            body=body.body,
            internal=body.internal,
            now=utcnow(),
        )
    TICKET_ACTIONS.labels("comment_internal" if body.internal else "comment").inc()
    return comment_out(comment)


@router.get("/tickets/{ticket_id}/timeline")
async def timeline(
    ticket_id: TicketRef, principal: CurrentUser, session: SessionDep
) -> list[TimelineOut]:
    """The ticket's history, oldest first; requesters do not see internal entries."""
    loaded = await queries.load_ticket(session, principal=principal, ref=ticket_id)
    entries = await queries.list_timeline(session, principal=principal, ticket_id=loaded.ticket.id)
    return [timeline_out(e) for e in entries]
