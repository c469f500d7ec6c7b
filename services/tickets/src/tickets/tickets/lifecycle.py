"""The lifecycle actions (claim, assign, accept, reject, pending, resume, resolve, confirm,
reopen, close) as a table: each action is a short function of a :class:`Change`; :func:`act`
locks and authorises the ticket, runs the action and saves the change.

Which role may do what, and which status an action leads to, is the policy's business
(``policy.py``); the functions here only add what is particular to an action: the fields
it sets, extra checks, and its events.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.tickets import (
    TicketAssigned,
    TicketClosed,
    TicketReopened,
    TicketResolved,
)
from helpdesk_common.db import driver_connection
from helpdesk_common.errors import ApiError
from helpdesk_common.outbox import events_written
from tickets.masterdata.cache import MasterData
from tickets.sla.schedule import resolution_working_seconds
from tickets.tickets.changes import (
    Change,
    apply_change,
    authorise,
    mark_first_response,
    run_change,
    save_change,
    status_changed,
)
from tickets.tickets.env import TicketsEnv
from tickets.tickets.present import SYSTEM_ACTOR, Loaded

# An action: (connection, change, body fields) -> None; it applies the change, adds events.
Action = Callable[..., Awaitable[None]]


async def act(
    connection: Any,
    *,
    env: TicketsEnv,
    principal: Principal,
    ref: str,
    action: str,
    expected_version: int | None,
    now: datetime,
    **fields: Any,
) -> Loaded:
    """Run lifecycle ``action`` on the ticket ``ref`` on asyncpg ``connection`` (outside a
    transaction: see changes.run_change, which also wakes the relays)."""
    change = await run_change(
        connection,
        env=env,
        principal=principal,
        ref=ref,
        action=action,
        expected_version=expected_version,
        now=now,
        apply=lambda change: ACTIONS[action](connection, change, **fields),
    )
    return change.loaded


def _assigned(change: Change, *, assignee_id: uuid.UUID, assignee_name: str, **extra: Any) -> None:
    change.events.append(
        TicketAssigned(
            ticket=change.snapshot(),
            actor=change.actor,
            assignee_id=assignee_id,
            assignee_name=assignee_name,
            **extra,
        )
    )


async def claim(_: Any, change: Change) -> None:
    """Take an unassigned ticket; exactly one of several simultaneous claims wins."""
    ticket, actor = change.ticket, change.actor
    if ticket.assignee_id is not None:
        raise ApiError(
            409,
            "already_assigned",
            f"Ticket {ticket.number} is already held by "
            f"{ticket.assignee_name or ticket.assignee_id}",
            extra={"assignee_id": str(ticket.assignee_id)},
        )
    assert actor.user_id is not None
    mark_first_response(ticket, actor=actor, now=change.now, master=change.master)
    from_status = apply_change(
        change,
        kind="claim",
        changes={"assignee_id": actor.user_id, "assignee_name": actor.name},
    )
    _assigned(change, assignee_id=actor.user_id, assignee_name=actor.name)
    status_changed(change, from_status=from_status)


async def assign(connection: Any, change: Change, *, assignee_id: uuid.UUID) -> None:
    """Give the ticket to an agent.

    Assigning an unassigned ticket is atomic like a claim. Taking a ticket away from its
    holder (reassign) needs its own right and the version the caller saw, so that two
    dispatchers never overwrite each other's choice unknowingly.
    """
    ticket, actor = change.ticket, change.actor
    if ticket.assignee_id == assignee_id:
        raise ApiError(
            409,
            "already_assigned",
            f"Ticket {ticket.number} is already assigned to {ticket.assignee_name}",
            extra={"assignee_id": str(assignee_id)},
        )
    if change.action == "reassign" and change.expected_version is None:
        raise ApiError(
            409,
            "already_assigned",
            f"Ticket {ticket.number} is already held by "
            f"{ticket.assignee_name or ticket.assignee_id}; to reassign it send the version"
            " you saw (If-Match or 'version')",
            extra={"assignee_id": str(ticket.assignee_id), "current_version": ticket.version},
        )
    if assignee_id == actor.user_id and actor.role == "agent":
        assignee_name = actor.name
    else:
        assignee_name = await connection.fetchval(
            "SELECT full_name FROM users WHERE id = $1 AND role = 'agent' AND is_active",
            assignee_id,
        )
        if assignee_name is None:
            raise ApiError(
                422,
                "unknown_agent",
                "The assignee must be an active agent (Petugas)",
                field="assignee_id",
            )
    previous = ticket.assignee_id
    apply_change(
        change,
        kind=change.action,
        changes={"assignee_id": assignee_id, "assignee_name": assignee_name},
    )
    _assigned(
        change,
        assignee_id=assignee_id,
        assignee_name=assignee_name,
        previous_assignee_id=previous,
    )


async def accept(_: Any, change: Change) -> None:
    """Verification passed: in progress, held by the caller unless someone holds it."""
    ticket, actor = change.ticket, change.actor
    takes_it = ticket.assignee_id is None
    changes: dict[str, Any] = {}
    if takes_it:
        changes = {"assignee_id": actor.user_id, "assignee_name": actor.name}
    mark_first_response(ticket, actor=actor, now=change.now, master=change.master)
    from_status = apply_change(change, kind="accept", changes=changes)
    if takes_it:
        assert actor.user_id is not None
        _assigned(change, assignee_id=actor.user_id, assignee_name=actor.name)
    status_changed(change, from_status=from_status)


def _transition(
    change: Change, *, changes: dict[str, Any], reason: str | None, first_response: bool
) -> None:
    """A status change with a reason and nothing else to tell (reject, pending, resume)."""
    if first_response:
        mark_first_response(change.ticket, actor=change.actor, now=change.now, master=change.master)
    from_status = apply_change(change, kind=change.action, changes=changes, note=reason)
    status_changed(change, from_status=from_status, reason=reason)


async def reject(_: Any, change: Change, *, reason: str) -> None:
    _transition(change, changes={"status_reason": reason}, reason=reason, first_response=True)


async def hold(_: Any, change: Change, *, reason: str) -> None:
    """``pending``: waiting for the requester; the resolution clock stops."""
    _transition(change, changes={"status_reason": reason}, reason=reason, first_response=True)


async def resume(_: Any, change: Change, *, reason: str | None = None) -> None:
    _transition(change, changes={"status_reason": None}, reason=reason, first_response=False)


async def resolve(_: Any, change: Change, *, result_summary: str) -> None:
    ticket, now, master = change.ticket, change.now, change.master
    mark_first_response(ticket, actor=change.actor, now=now, master=master)
    seconds = resolution_working_seconds(ticket, now=now, calendar=master.calendar)
    from_status = apply_change(
        change,
        kind="resolve",
        changes={
            "result_summary": result_summary,
            "resolved_at": now,
            "resolution_seconds": seconds,
            "status_reason": None,
        },
    )
    status_changed(change, from_status=from_status)
    change.events.append(
        TicketResolved(ticket=change.snapshot(), actor=change.actor, result_summary=result_summary)
    )


async def close(_: Any, change: Change, *, reason: str | None = None) -> None:
    """Closed: confirmed by the requester, by staff (e.g. confirmed by phone), or automatic."""
    from_status = apply_change(
        change, kind=change.action, changes={"closed_at": change.now}, note=reason
    )
    status_changed(change, from_status=from_status, reason=reason)
    change.events.append(
        TicketClosed(
            ticket=change.snapshot(),
            actor=change.actor,
            automatic=change.action == "auto_close",
        )
    )


async def reopen(_: Any, change: Change, *, reason: str) -> None:
    changes = {
        "resolved_at": None,
        "resolution_seconds": None,
        "status_reason": reason,
        "reopen_count": change.ticket.reopen_count + 1,
    }
    from_status = apply_change(change, kind="reopen", changes=changes, note=reason)
    status_changed(change, from_status=from_status, reason=reason)
    change.events.append(
        TicketReopened(ticket=change.snapshot(), actor=change.actor, reason=reason)
    )


# The policy's action -> what it does; the request body's fields are its keyword arguments.
ACTIONS: dict[str, Action] = {
    "claim": claim,
    "assign": assign,
    "accept": accept,
    "reject": reject,
    "pending": hold,
    "resume": resume,
    "resolve": resolve,
    "confirm": close,
    "reopen": reopen,
    "close": close,
}


async def auto_close(
    session: AsyncSession, *, env: TicketsEnv, master: MasterData, loaded: Loaded, now: datetime
) -> None:
    """Close a resolved ticket nobody confirmed or reopened in time (the scheduler).

    The scheduler locked it with its batch through the ORM; the change is saved with the
    same statement as the actions', on the session's own connection and transaction.
    """
    session.expunge(loaded.ticket)  # saved by save_change, not flushed by the ORM
    change = authorise(
        env=env,
        master=master,
        loaded=loaded,
        actor=SYSTEM_ACTOR,
        action="auto_close",
        expected_version=None,
        now=now,
    )
    reason = f"Ditutup otomatis: tidak dikonfirmasi dalam {env.settings.auto_close_days:g} hari"
    await close(None, change, reason=reason)
    await save_change(await driver_connection(session), change)
    events_written(session)
