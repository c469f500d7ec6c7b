"""Queues: the built-in views per role, the views users save from the list's filters with
the number of tickets in each, and bulk actions on many tickets at once.

A view is the ticket list's query parameters (``GET /tickets?...``), parsed with the list's
own parser (``tickets.tickets.filters.ticket_selection``), so a view selects exactly what
the list shows for the same address. Counts are capped like the list's total: every view
is counted in one statement, each count stopping one past the threshold.

A bulk action runs each ticket through the very service function of the single action
(``service.assign``, ``service.update_ticket``, ``service.act`` with ``lifecycle.close``),
so each ticket gets the same rules, version check, timeline line and events as it would
alone; a ticket that fails is reported and the others go on.
"""

from __future__ import annotations

import inspect
import typing
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import IT_STAFF_ROLES
from helpdesk_common.errors import (
    ApiError,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from tickets.metrics import TICKET_ACTIONS
from tickets.queues.models import SavedView
from tickets.queues.schemas import BulkBody, BulkError, BulkResult, BulkTicket, ViewOut
from tickets.runtime import TicketsRuntime
from tickets.tickets import filters, lifecycle, queries, service, store
from tickets.tickets.schemas import TicketUpdate
from tickets.tickets.store import Connection

# -- built-in views ---------------------------------------------------------------------

OPEN = "new,in_progress,pending"


@dataclass(frozen=True)
class BuiltinView:
    key: str
    # In Bahasa Indonesia, the product's language; the web client shows its own label by key.
    name: str
    params: dict[str, str]


ALL = BuiltinView("all", "Semua tiket", {})
MINE = BuiltinView("mine", "Tiket saya", {"assignee": "me", "status": OPEN})
UNASSIGNED = BuiltinView("unassigned", "Belum ditugaskan", {"assignee": "none", "status": OPEN})
OVERDUE = BuiltinView("overdue", "Terlambat", {"overdue": "true"})
WAITING = BuiltinView("waiting_requester", "Menunggu pemohon", {"status": "pending"})
OPEN_VIEW = BuiltinView("open", "Masih terbuka", {"status": OPEN})
TO_CONFIRM = BuiltinView("to_confirm", "Menunggu konfirmasi", {"status": "resolved"})

# Requesters see their own unit's tickets only (the list's visibility), so "open" is
# their unit's open tickets.
BUILTIN_VIEWS: dict[str, tuple[BuiltinView, ...]] = {
    "agent": (ALL, MINE, UNASSIGNED, OVERDUE, WAITING),
    "admin": (ALL, MINE, UNASSIGNED, OVERDUE, WAITING),
    "requester": (ALL, OPEN_VIEW, TO_CONFIRM),
    "leader": (ALL, OPEN_VIEW, OVERDUE),
}


def builtin_views(role: str) -> tuple[BuiltinView, ...]:
    return BUILTIN_VIEWS.get(role, (ALL,))


# -- a view's parameters, parsed as the list parses them -----------------------------------


@cache
def _list_parameters() -> dict[str, TypeAdapter[Any]]:
    """The list's query parameters (those of ``ticket_selection`` with a default), each
    with a validator built from its declared type and constraints (as the query string's
    text is read: a stored view's filters are that text)."""
    hints = typing.get_type_hints(filters.ticket_selection, include_extras=True)
    parameters = inspect.signature(filters.ticket_selection).parameters
    return {
        name: TypeAdapter(hints[name])
        for name, parameter in parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


async def selection_of(
    params: dict[str, str], *, principal: Principal, runtime: TicketsRuntime
) -> filters.TicketSelection:
    """The list's selection for ``params`` (as ``GET /tickets?<params>`` would parse it);
    a bad value is InvalidInput naming ``params.<name>``."""
    known = _list_parameters()
    values: dict[str, Any] = {}
    for name, text in params.items():
        adapter = known.get(name)
        if adapter is None:
            raise InvalidInput("unknown_filter", f"Unknown filter {name!r}", field=f"params.{name}")
        raw: Any = text.split(",") if name == "status" else text
        try:
            values[name] = adapter.validate_python(raw)
        except ValidationError as error:
            message = error.errors()[0]["msg"]
            raise InvalidInput(
                "invalid_filter", f"{name}: {message}", field=f"params.{name}"
            ) from None
    try:
        return await filters.ticket_selection(principal, runtime, **values)
    except ApiError as error:
        raise InvalidInput(
            error.code, error.message, field=f"params.{error.field or 'params'}"
        ) from None
    except DomainError as error:  # an unknown sort
        raise InvalidInput(
            error.code, error.message, field=f"params.{error.field or 'params'}"
        ) from None


# -- listing with counts ------------------------------------------------------------------


@dataclass(frozen=True)
class _Listed:
    """A view as listed, before its count."""

    id: str
    key: str | None
    name: str
    params: dict[str, str]
    position: int


async def list_views(
    session: AsyncSession, *, principal: Principal, runtime: TicketsRuntime, now: datetime
) -> list[ViewOut]:
    """The built-in views of the caller's role, then their saved views in their order,
    each with its ticket count (all counted in one statement)."""
    listed = [
        _Listed(view.key, view.key, view.name, view.params, index)
        for index, view in enumerate(builtin_views(principal.role))
    ] + [
        _Listed(str(view.id), None, view.name, view.params, view.position)
        for view in await _saved_views(session, user_id=principal.user_id)
    ]
    cap = runtime.settings.count_threshold
    counts: list[sa.ScalarSelect[int] | None] = []
    for view in listed:
        try:
            selection = await selection_of(view.params, principal=principal, runtime=runtime)
        except InvalidInput:
            counts.append(None)  # filters that no longer parse: listed, not counted
            continue
        capped = queries.capped_count(
            principal=principal, filters=selection.filters, now=now, cap=cap
        )
        counts.append(capped.scalar_subquery())
    countable = [count for count in counts if count is not None]
    await queries.plan_for_the_values(session)
    values = iter((await session.execute(sa.select(*countable))).one() if countable else ())
    out = []
    for view, count_query in zip(listed, counts, strict=True):
        count = None if count_query is None else int(next(values))
        out.append(
            ViewOut(
                id=view.id,
                key=view.key,
                name=view.name,
                builtin=view.key is not None,
                params=view.params,
                position=view.position,
                count=None if count is None else min(count, cap),
                count_exact=count is not None and count <= cap,
            )
        )
    return out


async def _saved_views(session: AsyncSession, *, user_id: uuid.UUID) -> list[SavedView]:
    query = (
        sa.select(SavedView)
        .where(SavedView.user_id == user_id)
        .order_by(SavedView.position, SavedView.created_at)
    )
    return list((await session.scalars(query)).all())


# -- saving, renaming, reordering, deleting -------------------------------------------------


def _check_name(name: str, *, role: str) -> None:
    if any(view.name.casefold() == name.casefold() for view in builtin_views(role)):
        raise InvalidInput(
            "duplicate_view_name", f"A built-in view is called {name!r}", field="name"
        )


async def _name_taken(
    session: AsyncSession, *, user_id: uuid.UUID, name: str, other_than: uuid.UUID | None
) -> bool:
    query = sa.select(SavedView.id).where(
        SavedView.user_id == user_id, sa.func.lower(SavedView.name) == name.lower()
    )
    if other_than is not None:
        query = query.where(SavedView.id != other_than)
    return (await session.scalar(query.limit(1))) is not None


def _duplicate(name: str) -> InvalidInput:
    return InvalidInput(
        "duplicate_view_name", f"You already have a view called {name!r}", field="name"
    )


async def create_view(
    session: AsyncSession,
    *,
    principal: Principal,
    runtime: TicketsRuntime,
    name: str,
    params: dict[str, Any],
    now: datetime,
) -> SavedView:
    """Save the list's current filters as a view of the caller's, placed last."""
    query = filters.as_query(params)
    await selection_of(query, principal=principal, runtime=runtime)
    stored = filters.stored_query(query)
    _check_name(name, role=principal.role)
    saved = await _saved_views(session, user_id=principal.user_id)
    limit = runtime.settings.views_max_per_user
    if len(saved) >= limit:
        raise Conflict("too_many_views", f"At most {limit} saved views per user; delete one first")
    if await _name_taken(session, user_id=principal.user_id, name=name, other_than=None):
        raise _duplicate(name)
    view = SavedView(
        id=uuid.uuid4(),
        user_id=principal.user_id,
        name=name,
        params=stored,
        position=max((v.position for v in saved), default=-1) + 1,
        created_at=now,
        updated_at=now,
    )
    session.add(view)
    await _flush(session, name)
    return view


async def _flush(session: AsyncSession, name: str) -> None:
    """Write now; the unique index settles a race between two saves of one name."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise _duplicate(name) from None


async def _own_view(
    session: AsyncSession, *, principal: Principal, view_id: str, lock: bool = True
) -> SavedView:
    """The caller's saved view, or 404 (also for someone else's: no hint it exists);
    a built-in view cannot be changed (403)."""
    if any(view.key == view_id for view in builtin_views(principal.role)):
        raise PermissionDenied("builtin_view", "Built-in views cannot be changed or deleted")
    try:
        key = uuid.UUID(view_id)
    except ValueError:
        raise NotFound("view_not_found", "View not found") from None
    query = sa.select(SavedView).where(SavedView.id == key, SavedView.user_id == principal.user_id)
    view = await session.scalar(query.with_for_update() if lock else query)
    if view is None:
        raise NotFound("view_not_found", "View not found")
    return view


async def update_view(
    session: AsyncSession,
    *,
    principal: Principal,
    runtime: TicketsRuntime,
    view_id: str,
    changes: dict[str, Any],
    now: datetime,
) -> SavedView:
    """Rename a view, replace its filters and/or move it to ``position``."""
    view = await _own_view(session, principal=principal, view_id=view_id)
    if changes.get("name") is not None:
        name = changes["name"]
        _check_name(name, role=principal.role)
        if await _name_taken(session, user_id=principal.user_id, name=name, other_than=view.id):
            raise _duplicate(name)
        view.name = name
    if changes.get("params") is not None:
        query = filters.as_query(changes["params"])
        await selection_of(query, principal=principal, runtime=runtime)
        stored = filters.stored_query(query)
        view.params = stored
    if changes.get("position") is not None:
        await _move(session, view=view, position=changes["position"])
    view.updated_at = now
    await _flush(session, view.name)
    return view


async def _move(session: AsyncSession, *, view: SavedView, position: int) -> None:
    """Put ``view`` at ``position`` among its owner's views and number them 0, 1, ..."""
    others = [
        v for v in await _saved_views_locked(session, user_id=view.user_id) if v.id != view.id
    ]
    others.insert(min(position, len(others)), view)
    for index, each in enumerate(others):
        if each.position != index:
            each.position = index


async def _saved_views_locked(session: AsyncSession, *, user_id: uuid.UUID) -> list[SavedView]:
    query = (
        sa.select(SavedView)
        .where(SavedView.user_id == user_id)
        .order_by(SavedView.position, SavedView.created_at)
        .with_for_update()
    )
    return list((await session.scalars(query)).all())


async def delete_view(session: AsyncSession, *, principal: Principal, view_id: str) -> None:
    view = await _own_view(session, principal=principal, view_id=view_id)
    await session.delete(view)


def view_out(view: SavedView, *, count: tuple[int, bool] | None = None) -> ViewOut:
    return ViewOut(
        id=str(view.id),
        key=None,
        name=view.name,
        builtin=False,
        params=view.params,
        position=view.position,
        count=count[0] if count else None,
        count_exact=bool(count and count[1]),
    )


async def count_view(
    session: AsyncSession,
    *,
    principal: Principal,
    runtime: TicketsRuntime,
    view: SavedView,
    now: datetime,
) -> tuple[int, bool]:
    selection = await selection_of(view.params, principal=principal, runtime=runtime)
    return await queries.count_tickets(
        session,
        principal=principal,
        filters=selection.filters,
        now=now,
        cap=runtime.settings.count_threshold,
    )


# -- bulk actions ---------------------------------------------------------------------------


def check_bulk(body: BulkBody, *, principal: Principal) -> None:
    """What the whole request must carry (422 naming the field), before any ticket."""
    if principal.role not in IT_STAFF_ROLES:
        raise PermissionDenied("forbidden", "Bulk actions are for IT staff (agents, admins)")
    if body.action == "assign" and body.assignee_id is None:
        raise InvalidInput("required", "Name the agent to assign to", field="assignee_id")
    if body.action == "priority" and body.priority is None:
        raise InvalidInput("required", "Name the new priority", field="priority")
    seen: set[str] = set()
    for index, item in enumerate(body.tickets):
        if item.id.upper() in seen:
            raise InvalidInput(
                "duplicate_ticket", f"Ticket {item.id} is listed twice", field=f"tickets.{index}.id"
            )
        seen.add(item.id.upper())


async def check_bulk_values(
    connection: Connection, runtime: TicketsRuntime, *, body: BulkBody, principal: Principal
) -> None:
    """The assignee and the priority are the same for every ticket: checked once (422)."""
    if body.action == "priority" and body.priority is not None:
        master = await runtime.masterdata.get_fresh_if_missing(priority=body.priority)
        info = master.priorities.get(body.priority)
        if info is None or not info.is_active:
            raise InvalidInput(
                "unknown_priority",
                f"Unknown or inactive priority {body.priority!r}",
                field="priority",
            )
    if body.action == "assign" and body.assignee_id is not None:
        self_assign = body.assignee_id == principal.user_id and principal.role == "agent"
        if not self_assign and await store.active_agent_name(connection, body.assignee_id) is None:
            raise InvalidInput(
                "unknown_agent",
                "The assignee must be an active agent (Petugas)",
                field="assignee_id",
            )


async def _apply_one(
    connection: Connection,
    runtime: TicketsRuntime,
    *,
    principal: Principal,
    body: BulkBody,
    item: BulkTicket,
    now: datetime,
) -> BulkResult:
    """The action on one ticket, through the single action's service function."""
    if body.action == "assign":
        assert body.assignee_id is not None
        loaded = await service.assign(
            connection,
            runtime,
            principal=principal,
            ref=item.id,
            assignee_id=body.assignee_id,
            expected_version=item.version,
            now=now,
        )
    elif body.action == "priority":
        if item.version is None:
            # As for PATCH /tickets/{id}: an edit names the version it was made on.
            raise InvalidInput(
                "precondition_required",
                "Send the ticket's version to change its priority",
                field="version",
            )
        loaded = await service.update_ticket(
            connection,
            runtime,
            principal=principal,
            ref=item.id,
            data=TicketUpdate(priority=body.priority),
            expected_version=item.version,
            now=now,
        )
    else:
        reason = body.reason
        change = await service.act(
            connection,
            runtime,
            principal=principal,
            ref=item.id,
            action="close",
            expected_version=item.version,
            now=now,
            decide=lambda change: lifecycle.close(change, reason=reason),
        )
        loaded = change.loaded
    TICKET_ACTIONS.labels("edit" if body.action == "priority" else body.action).inc()
    ticket = loaded.ticket
    return BulkResult(
        id=str(ticket.id),
        number=ticket.number,
        ok=True,
        status=ticket.status,
        error=None,
        ticket_version=ticket.version,
    )


async def _failed(
    connection: Connection, *, principal: Principal, item: BulkTicket, error: DomainError
) -> BulkResult:
    """A ticket the action failed on, as it is now (if the caller may see it)."""
    number = status = version = None
    ticket_id = item.id
    if not isinstance(error, NotFound):
        try:
            loaded, _ = await service.read_for_change(connection, principal=principal, ref=item.id)
        except DomainError:
            pass
        else:
            ticket = loaded.ticket
            ticket_id, number, status, version = (
                str(ticket.id),
                ticket.number,
                ticket.status,
                ticket.version,
            )
    return BulkResult(
        id=ticket_id,
        number=number,
        ok=False,
        status=status,
        error=BulkError(code=error.code, message=error.message),
        ticket_version=version,
    )


async def apply_bulk(
    connection: Connection,
    runtime: TicketsRuntime,
    *,
    principal: Principal,
    body: BulkBody,
    now: datetime,
) -> list[BulkResult]:
    """Each ticket in turn; a ticket's failure is its result, never the request's."""
    check_bulk(body, principal=principal)
    await check_bulk_values(connection, runtime, body=body, principal=principal)
    results = []
    for item in body.tickets:
        try:
            result = await _apply_one(
                connection, runtime, principal=principal, body=body, item=item, now=now
            )
        except DomainError as error:
            result = await _failed(connection, principal=principal, item=item, error=error)
        results.append(result)
    return results
