"""One change to a ticket: read and authorise it, apply it, save it in one statement.

Every change (a lifecycle action, an edit, the scheduler's auto-close) goes:

1. :func:`begin_change` reads the ticket and checks, in this order, that the caller sees it
   (404), holds the action's role (403), sent the current version if any (412) and that the
   action is legal in the ticket's status (409);
2. the action sets fields with :func:`apply_change`, which keeps the SLA clock right, bumps
   the version and prepares the timeline line, and adds its events to the change;
3. :func:`save_change` writes the ticket, the timeline line and the events (the outbox) with
   one SQL statement, atomic by itself.

The write is conditional on the row being as it was read: PostgreSQL gives every row
version a new ``xmin`` (the writing transaction), so ``UPDATE ... WHERE id = $1 AND xmin =
<as read>`` changes nothing if anyone (another request, a comment, the scheduler) wrote
the ticket in between; :func:`run_change` then reads and decides again. Of several
simultaneous claims exactly one is written; the others see it taken and get 409. This
needs no transaction around the read and the write: two round trips per change (the read,
the write that commits itself) instead of a locking transaction's four (BEGIN, SELECT ...
FOR UPDATE, the write, COMMIT), and no row lock held while Python decides. The scheduler,
which locks its batch anyway, saves with the same statement inside its transaction.

Changes are the hot path (hundreds a second at peak), so they are plain SQL on an asyncpg
connection (the service's driver pool; ``helpdesk_common.db.create_driver_pool``), not the
ORM: none of the session, flush and statement-compilation work around them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.envelope import EventPayload
from helpdesk_common.contracts.tickets import Actor, TicketSnapshot, TicketStatusChanged
from helpdesk_common.errors import ApiError
from helpdesk_common.outbox import add_event, outbox_row, wake_relays
from tickets.masterdata.cache import MasterData
from tickets.sla.schedule import RESOLUTION_CLOCK_RUNS, next_check, start_clock, stop_clock
from tickets.tickets.env import TicketsEnv
from tickets.tickets.models import (
    TICKET_COLUMNS,
    Ticket,
    TimelineEntry,
    json_param,
    make_ticket,
    sql_placeholder,
)
from tickets.tickets.present import Loaded, actor_of, jsonable, snapshot
from tickets.tickets.queries import parse_ref

STAFF_ROLES = ("agent", "admin")


# -- building blocks shared with the ORM paths (comments, the SLA scheduler) ----------------


def record(
    session: AsyncSession,
    *,
    ticket: Ticket,
    actor: Actor,
    kind: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
    internal: bool = False,
) -> None:
    """Append one line to the timeline of a ticket the session tracks (flushed by the ORM)."""
    session.add(
        TimelineEntry(
            ticket_id=ticket.id,
            at=now,
            kind=kind,
            actor_id=actor.user_id,
            actor_name=actor.name,
            actor_role=actor.role,
            before=before or None,
            after=after or None,
            note=note,
            internal=internal,
        )
    )


async def emit(session: AsyncSession, *, env: TicketsEnv, payload: EventPayload) -> None:
    await add_event(session, payload, producer=env.producer)


def check_version(ticket: Ticket, expected: int | None) -> None:
    if expected is not None and expected != ticket.version:
        raise ApiError(
            412,
            "version_mismatch",
            f"Ticket {ticket.number} has changed since you read it (it is at version "
            f"{ticket.version}, you sent {expected}); reload it and try again",
            extra={"current_version": ticket.version},
        )


def mark_first_response(ticket: Ticket, *, actor: Actor, now: datetime, master: MasterData) -> None:
    """The IT office's first visible reaction stops the first-response clock."""
    if ticket.first_response_at is None and actor.role in STAFF_ROLES:
        ticket.first_response_at = now
        ticket.first_response_seconds = int(
            master.calendar.working_time_between(ticket.created_at, now).total_seconds()
        )


# -- a change ----------------------------------------------------------------------------


@dataclass
class Change:
    """A change in the making, and what :func:`save_change` writes with the ticket."""

    env: TicketsEnv
    master: MasterData
    loaded: Loaded
    actor: Actor
    now: datetime
    # The action as the policy knows it (``assign`` becomes ``reassign`` on a held ticket)
    # and the status it leads to.
    action: str
    target: str
    expected_version: int | None = None
    # The row's xmin as read; None when the caller holds the row locked (the scheduler).
    row_version: int | None = None
    line: dict[str, Any] | None = None
    events: list[EventPayload] = field(default_factory=list)
    _snapshot: TicketSnapshot | None = None

    @property
    def ticket(self) -> Ticket:
        return self.loaded.ticket

    def snapshot(self) -> TicketSnapshot:
        """The ticket as the events show it; taken once, after the change was applied."""
        if self._snapshot is None:
            self._snapshot = snapshot(self.loaded, env=self.env, master=self.master)
        return self._snapshot


# Attempts of a change whose row keeps being changed under it: a conflict that survives
# this many fresh reads is reported (409) rather than retried forever.
ATTEMPTS = 5


async def run_change(
    connection: Any,
    *,
    env: TicketsEnv,
    principal: Principal,
    ref: str,
    action: str,
    expected_version: int | None,
    now: datetime,
    apply: Callable[[Change], Awaitable[None]],
) -> Change:
    """Read, authorise, ``apply`` and save a change on asyncpg ``connection`` (outside any
    transaction: the write commits by itself), again from a fresh read while the ticket
    was changed in between. Nothing is saved when ``apply`` prepared no timeline line.
    The relays are woken once a saved change's events are committed."""
    for _ in range(ATTEMPTS):
        change = await begin_change(
            connection,
            env=env,
            principal=principal,
            ref=ref,
            action=action,
            expected_version=expected_version,
            now=now,
        )
        await apply(change)
        if change.line is None:
            return change
        if await save_change(connection, change):
            if change.events:
                wake_relays()  # committed by the statement itself
            return change
    raise ApiError(
        409,
        "conflict",
        "The ticket kept changing while this request was handled; try again",
    )


async def begin_change(
    connection: Any,
    *,
    env: TicketsEnv,
    principal: Principal,
    ref: str,
    action: str,
    expected_version: int | None,
    now: datetime,
) -> Change:
    """Read the ticket and authorise ``action``: 404, then 403, 412, 409."""
    loaded, row_version = await read_ticket(connection, principal=principal, ref=ref)
    change = authorise(
        env=env,
        master=await env.masterdata.get(),
        loaded=loaded,
        actor=actor_of(principal),
        action=action,
        expected_version=expected_version,
        now=now,
    )
    change.row_version = row_version
    return change


async def read_ticket(connection: Any, *, principal: Principal, ref: str) -> tuple[Loaded, int]:
    """The ticket and its row version (xmin), or 404 (also for one the caller may not see)."""
    key = parse_ref(ref)
    # Requesters see their own unit's tickets only (queries.visible_to).
    scope = principal.unit_id if principal.role == "requester" else None
    if principal.role == "requester" and scope is None:
        raise ApiError(404, "not_found", "Ticket not found")
    by_number = isinstance(key, str)
    row = await connection.fetchrow(READ_BY_NUMBER if by_number else READ_BY_ID, key, scope)
    if row is None:
        raise ApiError(404, "not_found", "Ticket not found")
    return Loaded(ticket=make_ticket(row), unit_name=row["unit_name"]), row["row_version"]


def authorise(
    *,
    env: TicketsEnv,
    master: MasterData,
    loaded: Loaded,
    actor: Actor,
    action: str,
    expected_version: int | None,
    now: datetime,
) -> Change:
    """The change ``actor`` may make to the locked ticket (403, 412 or 409 otherwise)."""
    ticket = loaded.ticket
    assigned = ticket.assignee_id is not None
    if action == "assign" and assigned:
        # Taking a ticket from its holder is a right of its own.
        action = "reassign"
    env.policy.require_role(role=actor.role, action=action)
    check_version(ticket, expected_version)
    target = env.policy.check(
        role=actor.role, status=ticket.status, action=action, assigned=assigned
    )
    return Change(
        env=env,
        master=master,
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
    """Set fields and status, keep the SLA clock right, bump the version, prepare the line.

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
        start_clock(ticket, now=now, calendar=change.master.calendar, ratios=change.env.ratios)
        if ticket.resolution_due_at != due_before:
            before["resolution_due_at"] = jsonable(due_before)
            after["resolution_due_at"] = jsonable(ticket.resolution_due_at)
    ticket.sla_next_check_at = next_check(ticket)
    ticket.version += 1
    ticket.updated_at = now
    change.line = {
        "at": now,
        "kind": kind,
        "actor_id": change.actor.user_id,
        "actor_name": change.actor.name,
        "actor_role": change.actor.role,
        "before": before or None,
        "after": after or None,
        "note": note,
        "internal": internal,
    }
    return from_status


def status_changed(change: Change, *, from_status: str, reason: str | None = None) -> None:
    """``ticket.status_changed`` whenever the status moved (and only then)."""
    if from_status == change.ticket.status:
        return
    change.events.append(
        TicketStatusChanged(
            ticket=change.snapshot(),
            actor=change.actor,
            from_status=from_status,  # type: ignore[arg-type]
            to_status=change.ticket.status,  # type: ignore[arg-type]
            reason=reason,
        )
    )


# -- the SQL ----------------------------------------------------------------------------

_COLUMNS = [c.name for c in TICKET_COLUMNS]


def _read_sql(key: str) -> str:
    return f"""
SELECT {", ".join(f"t.{name}" for name in _COLUMNS)}, t.xmin AS row_version,
    u.name AS unit_name
FROM tickets t JOIN units u ON u.id = t.unit_id
WHERE t.{key} = $1 AND ($2::uuid IS NULL OR t.unit_id = $2)"""


READ_BY_ID = _read_sql("id")
READ_BY_NUMBER = _read_sql("number")

# Columns a change may set; the write happens only on the row as read, so writing them
# all is as safe as writing the changed ones, and one statement text serves every change
# (prepared once per connection).
_MUTABLE = [
    c
    for c in Ticket.__table__.columns
    if c.name not in ("id", "number", "search", "created_at")
    and not c.name.startswith("created_by_")
]
_LINE = ["at", "kind", "actor_id", "actor_name", "actor_role", "before", "after", "note"]


def _build_change_sql() -> str:
    sets = ", ".join(f"{c.name} = ${i}" for i, c in enumerate(_MUTABLE, start=3))
    first = len(_MUTABLE) + 3
    names = [*_LINE, "internal"]
    timeline = TimelineEntry.__table__.c
    line = ", ".join(sql_placeholder(timeline[name], first + i) for i, name in enumerate(names))
    events = first + len(names)
    return f"""
WITH changed AS (
    UPDATE tickets SET {sets}
    WHERE id = $1 AND ($2::xid IS NULL OR xmin = $2::xid)
    RETURNING id
), logged AS (
    INSERT INTO timeline (ticket_id, {", ".join(names)})
    SELECT changed.id, {line} FROM changed
), queued AS (
    INSERT INTO outbox (event_id, event_type, body)
    SELECT e.event_id, e.event_type, e.body
    FROM changed, unnest(${events}::uuid[], ${events + 1}::text[], ${events + 2}::text[])
        WITH ORDINALITY AS e(event_id, event_type, body, n)
    ORDER BY e.n
)
SELECT count(*) FROM changed"""


CHANGE_SQL = _build_change_sql()


async def save_change(connection: Any, change: Change) -> bool:
    """Write the changed ticket, its timeline line and its events on asyncpg ``connection``
    if the row is still as read; False (nothing written) if it changed in between.

    Outside a transaction the statement commits by itself: the caller wakes the relays
    when the change had events (:func:`run_change` does).
    """
    assert change.line is not None, "apply_change first"
    ticket, line = change.ticket, change.line
    rows = [outbox_row(event, producer=change.env.producer) for event in change.events]
    written = await connection.fetchval(
        CHANGE_SQL,
        ticket.id,
        change.row_version,
        *(getattr(ticket, c.key) for c in _MUTABLE),
        *(json_param(line[name]) for name in _LINE),
        line["internal"],
        [row[0] for row in rows],
        [row[1] for row in rows],
        [row[2] for row in rows],
    )
    return bool(written)
