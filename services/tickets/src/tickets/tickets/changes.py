"""One change to a ticket, decided in Python without touching the database.

A change (a lifecycle action, an edit, a comment's effect, the scheduler's SLA stamps and
auto-close) is a :class:`Change`: the ticket as read, who changes it, the action as the
policy knows it, and what it makes: the new field values (set on the ticket), the timeline
:class:`Line` s and the events. :func:`authorise` checks it, in this order: the caller's
role (403), the version the caller saw (412), the ticket's status (409) and whether
someone else holds the ticket (403 ``ticket_held_by_other``);
:func:`apply_change` sets fields and status, keeps the SLA clock right, bumps the version
and adds the timeline line; the action adds its events.

Nothing here reads or writes: ``service.py`` reads the ticket, lets the action decide and
hands the change to ``store.save_change``, which writes it with one statement. Unit tests
exercise all of this on an in-memory ticket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from helpdesk_common.contracts.envelope import EventPayload
from helpdesk_common.contracts.identity import IT_STAFF_ROLES
from helpdesk_common.contracts.tickets import (
    Actor,
    TicketSnapshot,
    TicketStatus,
    TicketStatusChanged,
)
from helpdesk_common.errors import StaleVersion
from tickets.masterdata.cache import MasterData
from tickets.shared import Loaded, jsonable, snapshot
from tickets.sla.schedule import (
    RESOLUTION_CLOCK_RUNS,
    SlaRatios,
    next_check,
    start_clock,
    stop_clock,
)
from tickets.tickets.policy import Holder, Policy
from tickets.tickets.record import TicketRecord


@dataclass(frozen=True)
class Rules:
    """What a change is decided by besides the ticket and the caller (no I/O)."""

    policy: Policy
    master: MasterData
    ratios: SlaRatios
    # For the link in event snapshots.
    web_base_url: str | None = None


@dataclass(frozen=True)
class Line:
    """One timeline line a change writes (the database gives it its id)."""

    at: datetime
    kind: str
    actor: Actor
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    note: str | None = None
    internal: bool = False


@dataclass
class Change:
    """A change in the making, and what the store writes with the ticket."""

    rules: Rules
    loaded: Loaded[TicketRecord]
    actor: Actor
    now: datetime
    # The action as the policy knows it (``assign`` becomes ``reassign`` on a held ticket)
    # and the status it leads to.
    action: str
    target: str
    expected_version: int | None = None
    lines: list[Line] = field(default_factory=list)
    events: list[EventPayload] = field(default_factory=list)
    _snapshot: TicketSnapshot | None = None

    @property
    def ticket(self) -> TicketRecord:
        return self.loaded.ticket

    @property
    def master(self) -> MasterData:
        return self.rules.master

    @property
    def made(self) -> bool:
        """Whether there is anything to save (an edit that changes nothing is no change)."""
        return bool(self.lines)

    def snapshot(self) -> TicketSnapshot:
        """The ticket as the events show it; taken once, after the change was applied."""
        if self._snapshot is None:
            self._snapshot = snapshot(
                self.loaded, master=self.master, web_base_url=self.rules.web_base_url
            )
        return self._snapshot


def check_version(ticket: TicketRecord, expected: int | None) -> None:
    if expected is not None and expected != ticket.version:
        raise StaleVersion(
            "version_mismatch",
            f"Ticket {ticket.number} has changed since you read it (it is at version "
            f"{ticket.version}, you sent {expected}); reload it and try again",
            extra={"current_version": ticket.version},
        )


def mark_first_response(
    ticket: TicketRecord, *, actor: Actor, now: datetime, master: MasterData
) -> None:
    """The IT office's first visible reaction stops the first-response clock."""
    if ticket.first_response_at is None and actor.role in IT_STAFF_ROLES:
        ticket.first_response_at = now
        ticket.first_response_seconds = int(
            master.calendar.working_time_between(ticket.created_at, now).total_seconds()
        )


def authorise(
    rules: Rules,
    *,
    loaded: Loaded[TicketRecord],
    actor: Actor,
    action: str,
    expected_version: int | None,
    now: datetime,
) -> Change:
    """The change ``actor`` may make to the ticket as read (403, 412 or 409 otherwise)."""
    ticket = loaded.ticket
    assigned = ticket.assignee_id is not None
    if action == "assign" and assigned:
        # Taking a ticket from its holder is a right of its own.
        action = "reassign"
    policy = rules.policy
    policy.require_role(role=actor.role, action=action)
    check_version(ticket, expected_version)
    holder = Holder(ticket.assignee_id, ticket.assignee_name) if ticket.assignee_id else None
    target = policy.check(
        role=actor.role,
        status=ticket.status,
        action=action,
        assigned=assigned,
        held_by_other=holder is not None and holder.id != actor.user_id,
    )
    # After the status: what no status allows is a 409 whoever holds the ticket.
    policy.require_holder(
        role=actor.role,
        action=action,
        actor_id=actor.user_id,
        holder=holder,
        number=ticket.number,
    )
    return Change(
        rules=rules,
        loaded=loaded,
        actor=actor,
        now=now,
        action=action,
        target=target,
        expected_version=expected_version,
    )


def apply_change(
    change: Change,
    *,
    kind: str,
    changes: dict[str, Any],
    note: str | None = None,
    internal: bool = False,
) -> str:
    """Set fields and status, keep the SLA clock right, bump the version, add the line.

    Returns the status before the change.
    """
    ticket, now = change.ticket, change.now
    from_status = ticket.status
    if change.target != from_status:
        changes = {**changes, "status": change.target}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in changes.items():
        old = getattr(ticket, name)
        if old != value:
            before[name] = jsonable(old)
            after[name] = jsonable(value)
            setattr(ticket, name, value)
    was_running = from_status in RESOLUTION_CLOCK_RUNS
    runs = change.target in RESOLUTION_CLOCK_RUNS
    if was_running and not runs:
        stop_clock(ticket, now=now)
    elif runs and not was_running:
        due_before = ticket.resolution_due_at
        start_clock(ticket, now=now, calendar=change.master.calendar, ratios=change.rules.ratios)
        if ticket.resolution_due_at != due_before:
            before["resolution_due_at"] = jsonable(due_before)
            after["resolution_due_at"] = jsonable(ticket.resolution_due_at)
    ticket.sla_next_check_at = next_check(ticket)
    ticket.version += 1
    ticket.updated_at = now
    change.lines.append(
        Line(
            at=now,
            kind=kind,
            actor=change.actor,
            before=before or None,
            after=after or None,
            note=note,
            internal=internal,
        )
    )
    return from_status


def status_changed(change: Change, *, from_status: str, reason: str | None = None) -> None:
    """``ticket.status_changed`` whenever the status moved (and only then)."""
    if from_status == change.ticket.status:
        return
    change.events.append(
        TicketStatusChanged(
            ticket=change.snapshot(),
            actor=change.actor,
            # Both come from the policy's table of statuses.
            from_status=cast(TicketStatus, from_status),
            to_status=cast(TicketStatus, change.ticket.status),
            reason=reason,
        )
    )
