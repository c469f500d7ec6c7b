"""The lifecycle actions (claim, assign, accept, reject, pending, resume, resolve, confirm,
reopen, close, auto-close): each a short pure function of an authorised :class:`Change`.

Which role may do what, and which status an action leads to, is the policy's business
(``policy.py``, checked by ``changes.authorise``); the functions here only add what is
particular to an action: extra checks, the fields it sets and its events. They read and
write nothing: ``service.act`` reads the ticket, calls one of them and saves the change
(``store.save_change``); anything an action needs from the database (an assignee's name)
is looked up before and passed in.
"""

from __future__ import annotations

import uuid
from typing import Any

from helpdesk_common.contracts.tickets import (
    TicketAssigned,
    TicketClosed,
    TicketReopened,
    TicketResolved,
)
from helpdesk_common.errors import Conflict, InvalidInput
from tickets.sla.schedule import resolution_working_seconds
from tickets.tickets.changes import Change, apply_change, mark_first_response, status_changed


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


def claim(change: Change) -> None:
    """Take an unassigned ticket; exactly one of several simultaneous claims wins."""
    ticket, actor = change.ticket, change.actor
    if ticket.assignee_id is not None:
        raise Conflict(
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


def assign(change: Change, *, assignee_id: uuid.UUID, agent_name: str | None) -> None:
    """Give the ticket to an agent; ``agent_name`` is the assignee's name if they are an
    active agent in the local directory (None otherwise; not needed for oneself).

    Assigning an unassigned ticket is atomic like a claim. Taking a ticket away from its
    holder (reassign) needs its own right and the version the caller saw, so that two
    dispatchers never overwrite each other's choice unknowingly.
    """
    ticket, actor = change.ticket, change.actor
    if ticket.assignee_id == assignee_id:
        raise Conflict(
            "already_assigned",
            f"Ticket {ticket.number} is already assigned to {ticket.assignee_name}",
            extra={"assignee_id": str(assignee_id)},
        )
    if change.action == "reassign" and change.expected_version is None:
        raise Conflict(
            "already_assigned",
            f"Ticket {ticket.number} is already held by "
            f"{ticket.assignee_name or ticket.assignee_id}; to reassign it send the version"
            " you saw (If-Match or 'version')",
            extra={"assignee_id": str(ticket.assignee_id), "current_version": ticket.version},
        )
    assignee_name = actor.name if assigns_self(change, assignee_id) else agent_name
    if assignee_name is None:
        raise InvalidInput(
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


def assigns_self(change: Change, assignee_id: uuid.UUID) -> bool:
    """An agent taking the ticket: their name is known without looking it up."""
    return assignee_id == change.actor.user_id and change.actor.role == "agent"


def accept(change: Change) -> None:
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


def reject(change: Change, *, reason: str) -> None:
    _transition(change, changes={"status_reason": reason}, reason=reason, first_response=True)


def hold(change: Change, *, reason: str) -> None:
    """``pending``: waiting for the requester; the resolution clock stops."""
    _transition(change, changes={"status_reason": reason}, reason=reason, first_response=True)


def resume(change: Change, *, reason: str | None = None) -> None:
    _transition(change, changes={"status_reason": None}, reason=reason, first_response=False)


def resolve(change: Change, *, result_summary: str) -> None:
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


def close(change: Change, *, reason: str | None = None) -> None:
    """Closed: confirmed by the requester (``confirm``), by staff (e.g. confirmed by phone),
    or automatically (``auto_close``, the scheduler)."""
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


def confirm(change: Change) -> None:
    """The requester accepts the result: closed."""
    close(change)


def reopen(change: Change, *, reason: str) -> None:
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


def auto_close(change: Change, *, after_days: float) -> None:
    """Close a resolved ticket nobody confirmed or reopened within ``after_days``."""
    close(change, reason=f"Ditutup otomatis: tidak dikonfirmasi dalam {after_days:g} hari")
