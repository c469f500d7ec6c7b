"""Changing tickets: create, edit, the lifecycle actions and comments.

Each function runs on an asyncpg connection outside any transaction (the driver pool): it
reads through ``store``, lets the pure code decide (``changes.py``, ``lifecycle.py`` and
the helpers here) and writes with one ``store`` statement that commits by itself, then
wakes the relays for the events it wrote.

A change is written only on the row as read (its ``xmin``): if anyone wrote the ticket in
between, nothing is written and the change is read and decided again (:func:`act`). Of
several simultaneous claims exactly one is written; the others see it taken and get 409.
This needs no transaction around the read and the write: two round trips per change
instead of a locking transaction's four, and no row lock held while Python decides.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import INTERNAL_ROLES
from helpdesk_common.contracts.tickets import Actor, TicketCommented, TicketCreated, TicketUpdated
from helpdesk_common.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from helpdesk_common.outbox import wake_relays
from tickets.masterdata.cache import MasterData
from tickets.runtime import TicketsRuntime
from tickets.shared import Loaded, actor_of, jsonable, snapshot
from tickets.sla.schedule import SlaRatios, next_check, plan
from tickets.tickets import lifecycle, store
from tickets.tickets.changes import (
    Change,
    Line,
    Rules,
    apply_change,
    authorise,
    mark_first_response,
)
from tickets.tickets.models import Comment
from tickets.tickets.queries import parse_ref
from tickets.tickets.record import TicketRecord
from tickets.tickets.schemas import TicketCreate, TicketUpdate
from tickets.tickets.store import Connection

# -- reading for a change ---------------------------------------------------------------


async def read_for_change(
    connection: Connection, *, principal: Principal, ref: str, lock: bool = False
) -> tuple[Loaded[TicketRecord], int]:
    """The ticket and its row version, or 404 (also for one the caller may not see);
    ``lock``: locked for the caller's transaction."""
    key = parse_ref(ref)
    # Requesters see their own unit's tickets only (queries.visible_to).
    scope = None if principal.role in INTERNAL_ROLES else principal.unit_id
    if principal.role not in INTERNAL_ROLES and scope is None:
        raise NotFound("not_found", "Ticket not found")
    found = await store.read_ticket(connection, key, unit_id=scope, lock=lock)
    if found is None:
        raise NotFound("not_found", "Ticket not found")
    return found


def rules_of(runtime: TicketsRuntime, master: MasterData) -> Rules:
    return Rules(
        policy=runtime.policy,
        master=master,
        ratios=runtime.ratios,
        web_base_url=runtime.settings.web_base_url,
    )


# Attempts of a change whose row keeps being changed under it: a conflict that survives
# this many fresh reads is reported (409) rather than retried forever.
ATTEMPTS = 5


async def act(
    connection: Connection,
    runtime: TicketsRuntime,
    *,
    principal: Principal,
    ref: str,
    action: str,
    expected_version: int | None,
    now: datetime,
    decide: Callable[[Change], None],
    master: MasterData | None = None,
) -> Change:
    """Lifecycle ``action`` (or an edit) on the ticket ``ref``: read, authorise, ``decide``
    (the action's function of ``lifecycle`` with the request's arguments bound) and save
    it, again from a fresh read while the ticket was changed in between. Nothing is saved
    when ``decide`` made no change."""
    actor = actor_of(principal)
    for _ in range(ATTEMPTS):
        loaded, row_version = await read_for_change(connection, principal=principal, ref=ref)
        change = authorise(
            rules_of(runtime, master or await runtime.masterdata.get()),
            loaded=loaded,
            actor=actor,
            action=action,
            expected_version=expected_version,
            now=now,
        )
        decide(change)
        if not change.made:
            return change
        saved = await store.save_change(
            connection,
            change.ticket,
            row_version=row_version,
            lines=change.lines,
            events=change.events,
            producer=runtime.producer,
        )
        if saved:
            if change.events:
                wake_relays()  # committed by the statement itself
            return change
    raise Conflict("conflict", "The ticket kept changing while this request was handled; try again")


# -- the lifecycle actions ----------------------------------------------------------------


async def assign(
    connection: Connection,
    runtime: TicketsRuntime,
    *,
    principal: Principal,
    ref: str,
    assignee_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
) -> Loaded[TicketRecord]:
    """``assign`` (or ``reassign``): the assignee is looked up once, before the ticket."""
    agent_name = None
    if not (assignee_id == principal.user_id and principal.role == "agent"):
        agent_name = await store.active_agent_name(connection, assignee_id)
    change = await act(
        connection,
        runtime,
        principal=principal,
        ref=ref,
        action="assign",
        expected_version=expected_version,
        now=now,
        decide=lambda change: lifecycle.assign(
            change, assignee_id=assignee_id, agent_name=agent_name
        ),
    )
    return change.loaded


# -- create -----------------------------------------------------------------------------


def _unit_for_create(principal: Principal, data: TicketCreate) -> uuid.UUID:
    if principal.role == "requester":
        if principal.unit_id is None:
            raise InvalidInput("no_unit", "Your account belongs to no unit (SKPD)", field="unit_id")
        if data.unit_id is not None and data.unit_id != principal.unit_id:
            raise InvalidInput(
                "invalid_unit",
                "Requesters create tickets for their own unit only",
                field="unit_id",
            )
        return principal.unit_id
    if data.unit_id is None:
        raise InvalidInput(
            "missing_unit", "Name the unit (SKPD) the ticket is for", field="unit_id"
        )
    return data.unit_id


def check_category(master: MasterData, category_id: uuid.UUID) -> None:
    category = master.categories.get(category_id)
    if category is None or not category.is_active:
        raise InvalidInput("unknown_category", "Unknown or inactive category", field="category_id")


def _check_priority(master: MasterData, code: str) -> None:
    info = master.priorities.get(code)
    if info is None or not info.is_active:
        raise InvalidInput(
            "unknown_priority",
            f"Unknown or inactive priority {code!r}; known: "
            + ", ".join(p.code for p in master.priorities.values() if p.is_active),
            field="priority",
        )


def plan_sla(ticket: TicketRecord, *, master: MasterData, ratios: SlaRatios) -> None:
    """The SLA targets of the ticket's priority (at creation, or when it changes)."""
    info = master.priorities.get(ticket.priority)
    plan(
        ticket,
        calendar=master.calendar,
        first_response_minutes=info.first_response_minutes if info else None,
        resolution_minutes=info.resolution_minutes if info else None,
        ratios=ratios,
    )
    ticket.sla_next_check_at = next_check(ticket)


def _check_requester_fields(principal: Principal, data: TicketCreate) -> None:
    if principal.role != "requester":
        return
    if data.priority is not None:
        raise InvalidInput(
            "priority_not_allowed",
            "The priority is set automatically or by the IT office",
            field="priority",
        )
    if data.requester_id not in (None, principal.user_id):
        raise InvalidInput(
            "invalid_requester",
            "Requesters create tickets in their own name",
            field="requester_id",
        )


def _priority_for(master: MasterData, data: TicketCreate, unit_id: uuid.UUID) -> tuple[str, str]:
    """The priority and where it came from (``manual`` from staff, else the rules)."""
    check_category(master, data.category_id)
    if data.priority is not None:
        _check_priority(master, data.priority)
        return data.priority, "manual"
    return master.choose_priority(
        title=data.title,
        description=data.description,
        unit_id=unit_id,
        category_id=data.category_id,
    )


async def _requester_for(
    connection: Connection, *, principal: Principal, data: TicketCreate, unit_id: uuid.UUID
) -> tuple[uuid.UUID | None, str | None]:
    """(id, name) of the requesting user: the caller, or a user of the unit named by staff.

    Looked up on the create's own connection: a request holding two pooled connections
    at once could starve the pool.
    """
    if principal.role == "requester":
        return principal.user_id, principal.name or None
    if data.requester_id is None:
        return None, None
    user = await store.active_user(connection, data.requester_id)
    if user is None or user[1] != unit_id:
        raise InvalidInput(
            "unknown_requester",
            "Unknown or inactive user, or not a member of the ticket's unit",
            field="requester_id",
        )
    return data.requester_id, user[0]


async def create_ticket(
    connection: Connection,
    runtime: TicketsRuntime,
    *,
    principal: Principal,
    data: TicketCreate,
    now: datetime,
) -> Loaded[TicketRecord]:
    """Create a ticket: draw its number (with the unit's name), then insert it with its
    first timeline line and ``ticket.created`` in one statement that commits by itself."""
    runtime.policy.require_role(role=principal.role, action="create")
    unit_id = _unit_for_create(principal, data)
    _check_requester_fields(principal, data)
    master = await runtime.masterdata.get_fresh_if_missing(
        category_id=data.category_id, priority=data.priority
    )
    priority = _priority_for(master, data, unit_id)
    requester = await _requester_for(connection, principal=principal, data=data, unit_id=unit_id)
    loaded = await insert_created(
        connection,
        runtime,
        data=data,
        master=master,
        actor=actor_of(principal),
        unit_id=unit_id,
        priority=priority,
        requester=requester,
        now=now,
    )
    wake_relays()
    return loaded


async def insert_created(
    connection: Connection,
    runtime: TicketsRuntime,
    *,
    data: TicketCreate,
    master: MasterData,
    actor: Actor,
    unit_id: uuid.UUID,
    priority: tuple[str, str],
    requester: tuple[uuid.UUID | None, str | None],
    now: datetime,
) -> Loaded[TicketRecord]:
    """The create's writing half, once the caller decided who creates what for which unit
    (the web's rules above; the intake channels', ``tickets.intake``): draw the number (422
    ``unknown_unit`` for an inactive unit), plan the SLA, insert the ticket with its first
    timeline line and ``ticket.created``. The caller wakes the relays after the commit."""
    numbers = runtime.numbers
    year = numbers.year_of(now)
    drawn = await store.draw_number(
        connection, sequence=await numbers.sequence_for(year), unit_id=unit_id
    )
    if drawn is None:
        raise InvalidInput("unknown_unit", "Unknown or inactive unit (SKPD)", field="unit_id")
    value, unit_name = drawn
    ticket = new_ticket(
        data,
        number=numbers.number(year, value),
        actor=actor,
        unit_id=unit_id,
        priority=priority,
        requester=requester,
        now=now,
    )
    plan_sla(ticket, master=master, ratios=runtime.ratios)
    loaded = Loaded(ticket=ticket, unit_name=unit_name)
    event = TicketCreated(
        ticket=snapshot(loaded, master=master, web_base_url=runtime.settings.web_base_url),
        actor=actor,
    )
    await store.insert_ticket(
        connection,
        ticket,
        lines=[created_line(ticket, actor=actor)],
        events=[event],
        producer=runtime.producer,
    )
    return loaded


def new_ticket(
    data: TicketCreate,
    *,
    number: str,
    actor: Actor,
    unit_id: uuid.UUID,
    priority: tuple[str, str],
    requester: tuple[uuid.UUID | None, str | None],
    now: datetime,
) -> TicketRecord:
    """The ticket as created (SLA targets still to plan; the rest at its defaults)."""
    assert actor.user_id is not None
    requester_id, requester_name = requester
    return TicketRecord(
        id=uuid.uuid4(),
        number=number,
        title=data.title,
        description=data.description,
        category_id=data.category_id,
        priority=priority[0],
        priority_source=priority[1],
        unit_id=unit_id,
        requester_id=requester_id,
        requester_name=requester_name,
        created_by_id=actor.user_id,
        created_by_name=actor.name,
        created_by_role=actor.role,
        contact_name=data.contact_name or requester_name,
        contact_phone=data.contact_phone,
        contact_email=data.contact_email,
        channel=data.channel,
        status="new",
        created_at=now,
        updated_at=now,
    )


def created_line(ticket: TicketRecord, *, actor: Actor) -> Line:
    """The first timeline line: what the ticket was created with."""
    return Line(
        at=ticket.created_at,
        kind="created",
        actor=actor,
        after={
            "status": "new",
            "title": ticket.title,
            "category_id": jsonable(ticket.category_id),
            "priority": ticket.priority,
            "priority_source": ticket.priority_source,
            "unit_id": jsonable(ticket.unit_id),
        },
    )


# -- edit -------------------------------------------------------------------------------

EDITABLE = (
    "title",
    "description",
    "category_id",
    "priority",
    "contact_name",
    "contact_phone",
    "contact_email",
)


async def update_ticket(
    connection: Connection,
    runtime: TicketsRuntime,
    *,
    principal: Principal,
    ref: str,
    data: TicketUpdate,
    expected_version: int,
    now: datetime,
) -> Loaded[TicketRecord]:
    """Edit the fields staff may edit, on the version the editor saw."""
    given = data.model_dump(exclude_unset=True, include=set(EDITABLE))
    master = None
    if "category_id" in given or "priority" in given:
        master = await runtime.masterdata.get_fresh_if_missing(
            category_id=given.get("category_id"), priority=given.get("priority")
        )
    change = await act(
        connection,
        runtime,
        principal=principal,
        ref=ref,
        action="edit",
        expected_version=expected_version,
        now=now,
        decide=lambda change: edit(change, given=given),
        master=master,
    )
    return change.loaded


def edit(change: Change, *, given: dict[str, Any]) -> None:
    """Apply the given fields that differ; none: no change, nothing saved."""
    ticket, master = change.ticket, change.master
    for required in ("title", "description", "category_id"):
        if required in given and given[required] is None:
            raise InvalidInput("required", f"{required} cannot be removed", field=required)
    if given.get("category_id") not in (None, ticket.category_id):
        check_category(master, given["category_id"])
    changes = {k: v for k, v in given.items() if getattr(ticket, k) != v}
    if "priority" in changes:
        if changes["priority"] is None:
            raise InvalidInput("required", "priority cannot be removed", field="priority")
        _check_priority(master, changes["priority"])
        changes["priority_source"] = "manual"
    if not changes:
        return
    apply_change(change, kind="edit", changes=changes)
    if "priority" in changes:
        # New targets from the new priority's policy; thresholds that fired stay fired.
        plan_sla(ticket, master=master, ratios=change.rules.ratios)
    # Copies of the ticket (reports' read model, attachments, live pages) follow edits too.
    change.events.append(
        TicketUpdated(
            ticket=change.snapshot(),
            actor=change.actor,
            fields=sorted(name for name in changes if name in given),
        )
    )


# -- comments ---------------------------------------------------------------------------


async def add_comment(
    connection: Connection,
    runtime: TicketsRuntime,
    *,
    principal: Principal,
    ref: str,
    body: str,
    internal: bool,
    now: datetime,
) -> Comment:
    """A public comment or an internal note; neither changes the ticket's version.

    Unlike a change, a comment holds the ticket locked for its short transaction (four
    round trips instead of two) rather than writing only onto the row as read: comments do
    not contradict each other, so a burst of them on one ticket must all land, in turn,
    instead of losing the race to each other until they give up with 409."""
    policy = runtime.policy
    action = "comment_internal" if internal else "comment"
    actor = actor_of(principal)
    async with connection.transaction():
        loaded, _ = await read_for_change(connection, principal=principal, ref=ref, lock=True)
        ticket = loaded.ticket
        if internal and not policy.may(principal.role, action):
            raise PermissionDenied(
                "forbidden", "Only IT staff may write internal notes", field="internal"
            )
        policy.check(
            role=principal.role,
            status=ticket.status,
            action=action,
            assigned=ticket.assignee_id is not None,
        )
        master = await runtime.masterdata.get()
        comment, line, event = comment_on(
            loaded,
            actor=actor,
            body=body,
            internal=internal,
            now=now,
            master=master,
            web_base_url=runtime.settings.web_base_url,
        )
        await store.save_comment(
            connection,
            ticket,
            comment,
            row_version=None,
            lines=[line],
            events=[event],
            producer=runtime.producer,
        )
    wake_relays()  # committed
    return comment


def comment_on(
    loaded: Loaded[TicketRecord],
    *,
    actor: Actor,
    body: str,
    internal: bool,
    now: datetime,
    master: MasterData,
    web_base_url: str | None,
) -> tuple[Comment, Line, TicketCommented]:
    """The comment, its timeline line and its event; sets what it changes on the ticket
    (a public comment by staff is a first response)."""
    ticket = loaded.ticket
    comment = Comment(
        id=uuid.uuid4(),
        ticket_id=ticket.id,
        author_id=actor.user_id,
        author_name=actor.name,
        author_role=actor.role,
        body=body,
        internal=internal,
        created_at=now,
    )
    if not internal:
        mark_first_response(ticket, actor=actor, now=now, master=master)
        ticket.sla_next_check_at = next_check(ticket)
    ticket.updated_at = now
    line = Line(
        at=now,
        kind="comment",
        actor=actor,
        after={"comment_id": str(comment.id), "body": body, "internal": internal},
        internal=internal,
    )
    event = TicketCommented(
        ticket=snapshot(loaded, master=master, web_base_url=web_base_url),
        actor=actor,
        comment_id=comment.id,
        body=body,
        internal=internal,
    )
    return comment, line, event
