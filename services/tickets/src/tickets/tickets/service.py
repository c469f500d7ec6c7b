"""Changing tickets: create, edit and comments (the lifecycle actions are in lifecycle.py).

Every function runs inside the caller's transaction and never commits, except the create,
which is one statement that commits by itself (see creation.py). Edits lock the ticket and
save it, its timeline line and events together (changes.py); comments go through the ORM.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.tickets import Actor, TicketCommented, TicketCreated
from helpdesk_common.errors import ApiError
from helpdesk_common.outbox import outbox_row, wake_relays
from tickets.masterdata.cache import MasterData
from tickets.sla.schedule import next_check, plan
from tickets.tickets.changes import (
    Change,
    apply_change,
    emit,
    mark_first_response,
    record,
    run_change,
)
from tickets.tickets.creation import insert_new_ticket
from tickets.tickets.env import TicketsEnv
from tickets.tickets.models import Comment, Ticket, make_ticket
from tickets.tickets.present import Loaded, actor_of, jsonable, snapshot
from tickets.tickets.queries import load_ticket
from tickets.tickets.schemas import TicketCreate, TicketUpdate

# -- create and edit --------------------------------------------------------------------


def _unit_for_create(principal: Principal, data: TicketCreate) -> uuid.UUID:
    if principal.role == "requester":
        if principal.unit_id is None:
            raise ApiError(
                422, "no_unit", "Your account belongs to no unit (SKPD)", field="unit_id"
            )
        if data.unit_id is not None and data.unit_id != principal.unit_id:
            raise ApiError(
                422,
                "invalid_unit",
                "Requesters create tickets for their own unit only",
                field="unit_id",
            )
        return principal.unit_id
    if data.unit_id is None:
        raise ApiError(
            422, "missing_unit", "Name the unit (SKPD) the ticket is for", field="unit_id"
        )
    return data.unit_id


def _check_category(master: MasterData, category_id: uuid.UUID) -> None:
    category = master.categories.get(category_id)
    if category is None or not category.is_active:
        raise ApiError(422, "unknown_category", "Unknown or inactive category", field="category_id")


def _check_priority(master: MasterData, code: str) -> None:
    info = master.priorities.get(code)
    if info is None or not info.is_active:
        raise ApiError(
            422,
            "unknown_priority",
            f"Unknown or inactive priority {code!r}; known: "
            + ", ".join(p.code for p in master.priorities.values() if p.is_active),
            field="priority",
        )


def _plan_sla(ticket: Ticket, *, env: TicketsEnv, master: MasterData) -> None:
    info = master.priorities.get(ticket.priority)
    plan(
        ticket,
        calendar=master.calendar,
        first_response_minutes=info.first_response_minutes if info else None,
        resolution_minutes=info.resolution_minutes if info else None,
        ratios=env.ratios,
    )
    ticket.sla_next_check_at = next_check(ticket)


def _check_requester_fields(principal: Principal, data: TicketCreate) -> None:
    if principal.role != "requester":
        return
    if data.priority is not None:
        raise ApiError(
            422,
            "priority_not_allowed",
            "The priority is set automatically or by the IT office",
            field="priority",
        )
    if data.requester_id not in (None, principal.user_id):
        raise ApiError(
            422,
            "invalid_requester",
            "Requesters create tickets in their own name",
            field="requester_id",
        )


def _priority_for(master: MasterData, data: TicketCreate, unit_id: uuid.UUID) -> tuple[str, str]:
    """The priority and where it came from (``manual`` from staff, else the rules)."""
    _check_category(master, data.category_id)
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
    connection: Any, *, principal: Principal, data: TicketCreate, unit_id: uuid.UUID
) -> tuple[uuid.UUID | None, str | None]:
    """(id, name) of the requesting user: the caller, or a user of the unit named by staff.

    Looked up on the create's own connection: a request holding two pooled connections
    at once could starve the pool.
    """
    if principal.role == "requester":
        return principal.user_id, principal.name or None
    if data.requester_id is None:
        return None, None
    user = await connection.fetchrow(
        "SELECT full_name, unit_id FROM users WHERE id = $1 AND is_active", data.requester_id
    )
    if user is None or user["unit_id"] != unit_id:
        raise ApiError(
            422,
            "unknown_requester",
            "Unknown or inactive user, or not a member of the ticket's unit",
            field="requester_id",
        )
    return data.requester_id, user["full_name"]


async def create_ticket(
    connection: Any,
    *,
    env: TicketsEnv,
    principal: Principal,
    data: TicketCreate,
    now: datetime,
) -> Loaded:
    """Create a ticket: one statement on the asyncpg ``connection`` that commits by itself
    (call it outside a transaction); wakes the relays for its event."""
    env.policy.require_role(role=principal.role, action="create")
    unit_id = _unit_for_create(principal, data)
    _check_requester_fields(principal, data)
    master = await env.masterdata.get_fresh_if_missing(
        category_id=data.category_id, priority=data.priority
    )
    ticket = _new_ticket(
        data,
        principal=principal,
        unit_id=unit_id,
        priority=_priority_for(master, data, unit_id),
        requester=await _requester_for(connection, principal=principal, data=data, unit_id=unit_id),
        now=now,
    )
    _plan_sla(ticket, env=env, master=master)
    year = env.numbers.year_of(now)
    inserted = await insert_new_ticket(
        connection,
        ticket=ticket,
        line=_created_line(ticket, actor=actor_of(principal)),
        event=_created_event(ticket, env=env, master=master, principal=principal),
        sequence=await env.numbers.sequence_for(year),
        number_prefix=env.numbers.prefix_for(year),
    )
    if inserted is None:
        raise ApiError(422, "unknown_unit", "Unknown or inactive unit (SKPD)", field="unit_id")
    wake_relays()
    ticket.number, unit_name = inserted
    return Loaded(ticket=ticket, unit_name=unit_name)


def _new_ticket(
    data: TicketCreate,
    *,
    principal: Principal,
    unit_id: uuid.UUID,
    priority: tuple[str, str],
    requester: tuple[uuid.UUID | None, str | None],
    now: datetime,
) -> Ticket:
    """The ticket as created (number and SLA targets still to fill in)."""
    requester_id, requester_name = requester
    return make_ticket(
        {
            "id": uuid.uuid4(),
            "title": data.title,
            "description": data.description,
            "category_id": data.category_id,
            "priority": priority[0],
            "priority_source": priority[1],
            "unit_id": unit_id,
            "requester_id": requester_id,
            "requester_name": requester_name,
            "created_by_id": principal.user_id,
            "created_by_name": principal.name or str(principal.user_id),
            "created_by_role": principal.role,
            "contact_name": data.contact_name or requester_name,
            "contact_phone": data.contact_phone,
            "contact_email": data.contact_email,
            "channel": data.channel,
            "status": "new",
            "reopen_count": 0,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "escalation_level": 0,
            "sla_paused_seconds": 0,
        }
    )


def _created_event(
    ticket: Ticket, *, env: TicketsEnv, master: MasterData, principal: Principal
) -> tuple[uuid.UUID, str, str]:
    """The outbox row of ``ticket.created``; the statement fills in number and unit name."""
    ticket.number = ""
    event = TicketCreated(
        ticket=snapshot(Loaded(ticket=ticket, unit_name=None), env=env, master=master),
        actor=actor_of(principal),
    )
    return outbox_row(event, producer=env.producer)


def _created_line(ticket: Ticket, *, actor: Actor) -> dict[str, Any]:
    """The first timeline line: what the ticket was created with."""
    return {
        "at": ticket.created_at,
        "kind": "created",
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "actor_role": actor.role,
        "after": {
            "status": "new",
            "title": ticket.title,
            "category_id": jsonable(ticket.category_id),
            "priority": ticket.priority,
            "priority_source": ticket.priority_source,
            "unit_id": jsonable(ticket.unit_id),
        },
        "internal": False,
    }


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
    connection: Any,
    *,
    env: TicketsEnv,
    principal: Principal,
    ref: str,
    data: TicketUpdate,
    expected_version: int | None,
    now: datetime,
) -> Loaded:
    """Edit the fields staff may edit, on asyncpg ``connection`` (see changes.run_change)."""
    if expected_version is None:
        raise ApiError(
            428,
            "precondition_required",
            "Send the version you edited (If-Match header with the ETag, or 'version')"
            " so that no one else's change is overwritten",
            field="version",
        )
    given = data.model_dump(exclude_unset=True, include=set(EDITABLE))

    async def edit(change: Change) -> None:
        await _edit(change, given=given)

    change = await run_change(
        connection,
        env=env,
        principal=principal,
        ref=ref,
        action="edit",
        expected_version=expected_version,
        now=now,
        apply=edit,
    )
    return change.loaded


async def _edit(change: Change, *, given: dict[str, Any]) -> None:
    """Apply the given fields that differ; none: no change, nothing saved."""
    ticket, env = change.ticket, change.env
    for required in ("title", "description", "category_id"):
        if required in given and given[required] is None:
            raise ApiError(422, "required", f"{required} cannot be removed", field=required)
    if "category_id" in given or "priority" in given:
        change.master = await env.masterdata.get_fresh_if_missing(
            category_id=given.get("category_id"), priority=given.get("priority")
        )
    master = change.master
    if given.get("category_id") not in (None, ticket.category_id):
        _check_category(master, given["category_id"])
    changes = {k: v for k, v in given.items() if getattr(ticket, k) != v}
    if "priority" in changes:
        if changes["priority"] is None:
            raise ApiError(422, "required", "priority cannot be removed", field="priority")
        _check_priority(master, changes["priority"])
        changes["priority_source"] = "manual"
    if not changes:
        return
    apply_change(change, kind="edit", changes=changes)
    if "priority" in changes:
        # New targets from the new priority's policy; thresholds that fired stay fired.
        _plan_sla(ticket, env=env, master=master)


# -- comments ---------------------------------------------------------------------------


async def add_comment(
    session: AsyncSession,
    *,
    env: TicketsEnv,
    principal: Principal,
    ref: str,
    body: str,
    internal: bool,
    now: datetime,
) -> tuple[Loaded, Comment]:
    """A public comment or an internal note; neither changes the ticket's version."""
    loaded = await load_ticket(session, principal=principal, ref=ref, lock=True)
    ticket = loaded.ticket
    action = "comment_internal" if internal else "comment"
    if internal and not env.policy.may(principal.role, action):
        raise ApiError(403, "forbidden", "Only IT staff may write internal notes", field="internal")
    env.policy.check(
        role=principal.role,
        status=ticket.status,
        action=action,
        assigned=ticket.assignee_id is not None,
    )
    master = await env.masterdata.get()
    actor = actor_of(principal)
    comment = Comment(
        id=uuid.uuid4(),
        ticket_id=ticket.id,
        author_id=principal.user_id,
        author_name=actor.name,
        author_role=principal.role,
        body=body,
        internal=internal,
        created_at=now,
    )
    session.add(comment)
    if not internal:
        mark_first_response(ticket, actor=actor, now=now, master=master)
        ticket.sla_next_check_at = next_check(ticket)
    ticket.updated_at = now
    record(
        session,
        ticket=ticket,
        actor=actor,
        kind="comment",
        now=now,
        after={"comment_id": str(comment.id), "body": body, "internal": internal},
        internal=internal,
    )
    await emit(
        session,
        env=env,
        payload=TicketCommented(
            ticket=snapshot(loaded, env=env, master=master),
            actor=actor,
            comment_id=comment.id,
            body=body,
            internal=internal,
        ),
    )
    return loaded, comment
