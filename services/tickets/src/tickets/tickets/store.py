"""The tickets write path's one adapter to the database: every statement it runs, as SQL.

Reads for a change, the create, a change, a comment, the scheduler's batches and the pages
of the internal snapshot backfill are plain SQL on an asyncpg connection (the service's
driver pool, or the scheduler's transaction): the SQLAlchemy layers would cost more CPU than
the database's own work on these hot paths (and the backfill reads every ticket). The
texts are constant, so asyncpg prepares each once per connection; each is written out as it
is sent (paste it into psql with the parameters).

One way to write: a statement that writes a ticket also writes its timeline lines and its
events (the outbox), all from arrays, so that it is atomic by itself. Outside a transaction
it commits by itself and the caller wakes the relays (``outbox.wake_relays``); inside one
(the scheduler's) the commit does.

Nothing here decides anything: which fields change, which lines and events a change makes
is decided in Python beforehand (``changes.py``, ``lifecycle.py``, ``service.py``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from helpdesk_common.contracts.envelope import EventPayload
from helpdesk_common.outbox import outbox_row
from tickets.shared import Loaded
from tickets.tickets.changes import Line
from tickets.tickets.models import Comment
from tickets.tickets.record import TICKET_COLUMNS, TicketRecord

# A plain connection, or one taken from the driver pool.
Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy


# The columns a change may set, in the order of CHANGE_SQL's SET list ($3 ...): all but
# the identity and creation columns. The write applies only to the row as read, so writing
# them all is as safe as writing the changed ones, and one text serves every change.
CHANGE_COLUMNS = (
    "title", "description", "category_id", "priority", "priority_source", "unit_id",
    "requester_id", "requester_name", "contact_name", "contact_phone", "contact_email",
    "channel", "status", "status_reason", "assignee_id", "assignee_name", "result_summary",
    "reopen_count", "version", "updated_at", "first_response_at", "resolved_at", "closed_at",
    "first_response_seconds", "resolution_seconds", "sla_first_response_minutes",
    "sla_resolution_minutes", "first_response_warn_at", "first_response_due_at",
    "first_response_escalate_at", "resolution_warn_at", "resolution_due_at",
    "resolution_escalate_at", "first_response_warned_at", "first_response_breached_at",
    "first_response_escalated_at", "resolution_warned_at", "resolution_breached_at",
    "resolution_escalated_at", "escalation_level", "sla_paused_since", "sla_paused_seconds",
    "sla_next_check_at",
)  # fmt: skip

# The ticket's values in TICKET_COLUMNS' (CHANGE_COLUMNS') order, in one C call rather than
# a generator of ~50 getattr calls per write.
_TICKET_VALUES = attrgetter(*TICKET_COLUMNS)
_CHANGE_VALUES = attrgetter(*CHANGE_COLUMNS)

# -- reading ----------------------------------------------------------------------------

_SELECT_TICKET = """
SELECT t.id, t.number, t.title, t.description, t.category_id, t.priority, t.priority_source,
    t.unit_id, t.requester_id, t.requester_name, t.created_by_id, t.created_by_name,
    t.created_by_role, t.contact_name, t.contact_phone, t.contact_email, t.channel, t.status,
    t.status_reason, t.assignee_id, t.assignee_name, t.result_summary, t.reopen_count,
    t.version, t.created_at, t.updated_at, t.first_response_at, t.resolved_at, t.closed_at,
    t.first_response_seconds, t.resolution_seconds, t.sla_first_response_minutes,
    t.sla_resolution_minutes, t.first_response_warn_at, t.first_response_due_at,
    t.first_response_escalate_at, t.resolution_warn_at, t.resolution_due_at,
    t.resolution_escalate_at, t.first_response_warned_at, t.first_response_breached_at,
    t.first_response_escalated_at, t.resolution_warned_at, t.resolution_breached_at,
    t.resolution_escalated_at, t.escalation_level, t.sla_paused_since, t.sla_paused_seconds,
    t.sla_next_check_at,
    t.xmin AS row_version, u.name AS unit_name
FROM tickets t JOIN units u ON u.id = t.unit_id"""

# $2: the unit a requester is limited to (NULL for staff).
READ_BY_ID = _SELECT_TICKET + "\nWHERE t.id = $1 AND ($2::uuid IS NULL OR t.unit_id = $2)"
READ_BY_NUMBER = _SELECT_TICKET + "\nWHERE t.number = $1 AND ($2::uuid IS NULL OR t.unit_id = $2)"
# The same, locking the ticket for the caller's transaction (writers that must not conflict).
LOCK_BY_ID = READ_BY_ID + "\nFOR UPDATE OF t"
LOCK_BY_NUMBER = READ_BY_NUMBER + "\nFOR UPDATE OF t"

# The scheduler's batches, locked for its transaction; rows another replica holds are skipped.
LOCK_SLA_DUE = (
    _SELECT_TICKET
    + """
WHERE t.sla_next_check_at <= $1
ORDER BY t.sla_next_check_at
LIMIT $2
FOR UPDATE OF t SKIP LOCKED"""
)
LOCK_RESOLVED_BEFORE = (
    _SELECT_TICKET
    + """
WHERE t.status = 'resolved' AND t.resolved_at <= $1
ORDER BY t.resolved_at
LIMIT $2
FOR UPDATE OF t SKIP LOCKED"""
)


# The internal snapshot backfill: the tickets after $1 in id order (the nil UUID before the
# first), with their unit's name. A range scan of the primary key, joined to the units by
# theirs: a page costs the same at the millionth ticket as at the first.
SNAPSHOT_PAGE = (
    _SELECT_TICKET
    + """
WHERE t.id > $1
ORDER BY t.id
LIMIT $2"""
)
# Sorts before every ticket's id (uuid4 never makes it).
BEFORE_FIRST_ID = uuid.UUID(int=0)


def _loaded(row: asyncpg.Record) -> Loaded[TicketRecord]:
    ticket = TicketRecord(**{name: row[name] for name in TICKET_COLUMNS})
    return Loaded(ticket=ticket, unit_name=row["unit_name"])


async def read_ticket(
    connection: Connection, key: uuid.UUID | str, *, unit_id: uuid.UUID | None, lock: bool = False
) -> tuple[Loaded[TicketRecord], int] | None:
    """The ticket with id or number ``key`` (of ``unit_id`` only, when given) and its row
    version (``xmin``), which :func:`save_change` makes the condition of its write;
    ``lock``: locked until the caller's transaction ends (then no condition is needed)."""
    if lock:
        sql = LOCK_BY_NUMBER if isinstance(key, str) else LOCK_BY_ID
    else:
        sql = READ_BY_NUMBER if isinstance(key, str) else READ_BY_ID
    row = await connection.fetchrow(sql, key, unit_id)
    if row is None:
        return None
    return _loaded(row), int(row["row_version"])


async def lock_sla_due(
    connection: Connection, *, now: datetime, limit: int
) -> list[Loaded[TicketRecord]]:
    """Lock (in the caller's transaction) tickets with an SLA threshold due by ``now``."""
    return [_loaded(row) for row in await connection.fetch(LOCK_SLA_DUE, now, limit)]


async def lock_resolved_before(
    connection: Connection, *, cutoff: datetime, limit: int
) -> list[Loaded[TicketRecord]]:
    """Lock (in the caller's transaction) tickets resolved at or before ``cutoff``."""
    rows = await connection.fetch(LOCK_RESOLVED_BEFORE, cutoff, limit)
    return [_loaded(row) for row in rows]


async def tickets_after(
    connection: Connection, after: uuid.UUID | None, *, limit: int
) -> list[Loaded[TicketRecord]]:
    """Up to ``limit`` tickets with an id above ``after`` (None: from the first), in id order,
    each with its unit's name."""
    rows = await connection.fetch(SNAPSHOT_PAGE, after or BEFORE_FIRST_ID, limit)
    return [_loaded(row) for row in rows]


ACTIVE_AGENT_NAME = "SELECT full_name FROM users WHERE id = $1 AND role = 'agent' AND is_active"
ACTIVE_USER = "SELECT full_name, unit_id FROM users WHERE id = $1 AND is_active"


async def active_agent_name(connection: Connection, user_id: uuid.UUID) -> str | None:
    """The name of an active agent in the local directory (None: no such agent)."""
    name = await connection.fetchval(ACTIVE_AGENT_NAME, user_id)
    return None if name is None else str(name)


async def active_user(
    connection: Connection, user_id: uuid.UUID
) -> tuple[str, uuid.UUID | None] | None:
    """(name, unit) of an active user in the local directory."""
    row = await connection.fetchrow(ACTIVE_USER, user_id)
    return None if row is None else (row["full_name"], row["unit_id"])


# -- creating ---------------------------------------------------------------------------

# Draws the next number of the year's sequence ($1) for an active unit ($2), with its name;
# no row (and no number drawn) for an unknown or inactive unit.
DRAW_NUMBER = """
SELECT u.name AS unit_name, nextval($1::text::regclass) AS value
FROM units u WHERE u.id = $2 AND u.is_active"""


async def draw_number(
    connection: Connection, *, sequence: str, unit_id: uuid.UUID
) -> tuple[int, str] | None:
    """(the next value of ``sequence``, the unit's name), or None for an inactive unit."""
    row = await connection.fetchrow(DRAW_NUMBER, sequence, unit_id)
    return None if row is None else (int(row["value"]), str(row["unit_name"]))


CREATE_SQL = """
WITH inserted AS (
    INSERT INTO tickets (id, number, title, description, category_id, priority,
        priority_source, unit_id, requester_id, requester_name, created_by_id,
        created_by_name, created_by_role, contact_name, contact_phone, contact_email, channel,
        status, status_reason, assignee_id, assignee_name, result_summary, reopen_count,
        version, created_at, updated_at, first_response_at, resolved_at, closed_at,
        first_response_seconds, resolution_seconds, sla_first_response_minutes,
        sla_resolution_minutes, first_response_warn_at, first_response_due_at,
        first_response_escalate_at, resolution_warn_at, resolution_due_at,
        resolution_escalate_at, first_response_warned_at, first_response_breached_at,
        first_response_escalated_at, resolution_warned_at, resolution_breached_at,
        resolution_escalated_at, escalation_level, sla_paused_since, sla_paused_seconds,
        sla_next_check_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35,
        $36, $37, $38, $39, $40, $41, $42, $43, $44, $45, $46, $47, $48, $49)
    RETURNING id
), logged AS (
    INSERT INTO timeline (ticket_id, at, kind, actor_id, actor_name, actor_role, before,
        after, note, internal)
    SELECT inserted.id, l.at, l.kind, l.actor_id, l.actor_name, l.actor_role,
        l.before::jsonb, l.after::jsonb, l.note, l.internal
    FROM inserted, unnest($50::timestamptz[], $51::text[], $52::uuid[], $53::text[],
            $54::text[], $55::text[], $56::text[], $57::text[], $58::boolean[])
        WITH ORDINALITY AS l(at, kind, actor_id, actor_name, actor_role, before, after, note,
            internal, n)
    ORDER BY l.n
), queued AS (
    INSERT INTO outbox (event_id, event_type, body)
    SELECT e.event_id, e.event_type, e.body
    FROM inserted, unnest($59::uuid[], $60::text[], $61::text[])
        WITH ORDINALITY AS e(event_id, event_type, body, n)
    ORDER BY e.n
)
SELECT count(*) FROM inserted"""


async def insert_ticket(
    connection: Connection,
    ticket: TicketRecord,
    *,
    lines: Sequence[Line],
    events: Sequence[EventPayload],
    producer: str,
) -> None:
    """Insert ``ticket`` (its number drawn already) with its timeline ``lines`` and
    ``events``, in one statement."""
    await connection.execute(
        CREATE_SQL,
        *_TICKET_VALUES(ticket),
        *_line_arrays(lines),
        *_event_arrays(events, producer=producer),
    )


# -- changing ---------------------------------------------------------------------------

CHANGE_SQL = """
WITH changed AS (
    UPDATE tickets SET title = $3, description = $4, category_id = $5, priority = $6,
        priority_source = $7, unit_id = $8, requester_id = $9, requester_name = $10,
        contact_name = $11, contact_phone = $12, contact_email = $13, channel = $14,
        status = $15, status_reason = $16, assignee_id = $17, assignee_name = $18,
        result_summary = $19, reopen_count = $20, version = $21, updated_at = $22,
        first_response_at = $23, resolved_at = $24, closed_at = $25,
        first_response_seconds = $26, resolution_seconds = $27,
        sla_first_response_minutes = $28, sla_resolution_minutes = $29,
        first_response_warn_at = $30, first_response_due_at = $31,
        first_response_escalate_at = $32, resolution_warn_at = $33, resolution_due_at = $34,
        resolution_escalate_at = $35, first_response_warned_at = $36,
        first_response_breached_at = $37, first_response_escalated_at = $38,
        resolution_warned_at = $39, resolution_breached_at = $40,
        resolution_escalated_at = $41, escalation_level = $42, sla_paused_since = $43,
        sla_paused_seconds = $44, sla_next_check_at = $45
    -- Only the row as read ($2 NULL: the caller holds it locked): any write in between
    -- gave it a new xmin.
    WHERE id = $1 AND ($2::xid IS NULL OR xmin = $2::xid)
    RETURNING id
), logged AS (
    INSERT INTO timeline (ticket_id, at, kind, actor_id, actor_name, actor_role, before,
        after, note, internal)
    SELECT changed.id, l.at, l.kind, l.actor_id, l.actor_name, l.actor_role,
        l.before::jsonb, l.after::jsonb, l.note, l.internal
    FROM changed, unnest($46::timestamptz[], $47::text[], $48::uuid[], $49::text[],
            $50::text[], $51::text[], $52::text[], $53::text[], $54::boolean[])
        WITH ORDINALITY AS l(at, kind, actor_id, actor_name, actor_role, before, after, note,
            internal, n)
    ORDER BY l.n
), queued AS (
    INSERT INTO outbox (event_id, event_type, body)
    SELECT e.event_id, e.event_type, e.body
    FROM changed, unnest($55::uuid[], $56::text[], $57::text[])
        WITH ORDINALITY AS e(event_id, event_type, body, n)
    ORDER BY e.n
)
SELECT count(*) FROM changed"""


async def save_change(
    connection: Connection,
    ticket: TicketRecord,
    *,
    row_version: int | None,
    lines: Sequence[Line],
    events: Sequence[EventPayload],
    producer: str,
) -> bool:
    """Write the changed ``ticket`` with its timeline ``lines`` and ``events`` if its row is
    still at ``row_version`` (None: the caller holds it locked); False (nothing written) if
    it changed in between."""
    written = await connection.fetchval(
        CHANGE_SQL,
        ticket.id,
        row_version,
        *_CHANGE_VALUES(ticket),
        *_line_arrays(lines),
        *_event_arrays(events, producer=producer),
    )
    return bool(written)


# A comment: the ticket's few fields a comment moves (it keeps its version), the comment,
# its timeline line and its event; only on the row as read ($2 NULL: the caller holds it
# locked).
COMMENT_SQL = """
WITH changed AS (
    UPDATE tickets SET updated_at = $3, first_response_at = $4, first_response_seconds = $5,
        sla_next_check_at = $6
    WHERE id = $1 AND ($2::xid IS NULL OR xmin = $2::xid)
    RETURNING id
), commented AS (
    INSERT INTO comments (id, ticket_id, author_id, author_name, author_role, body, internal,
        created_at)
    SELECT $7::uuid, changed.id, $8::uuid, $9::text, $10::text, $11::text, $12::boolean,
        $13::timestamptz
    FROM changed
), logged AS (
    INSERT INTO timeline (ticket_id, at, kind, actor_id, actor_name, actor_role, before,
        after, note, internal)
    SELECT changed.id, l.at, l.kind, l.actor_id, l.actor_name, l.actor_role,
        l.before::jsonb, l.after::jsonb, l.note, l.internal
    FROM changed, unnest($14::timestamptz[], $15::text[], $16::uuid[], $17::text[],
            $18::text[], $19::text[], $20::text[], $21::text[], $22::boolean[])
        WITH ORDINALITY AS l(at, kind, actor_id, actor_name, actor_role, before, after, note,
            internal, n)
    ORDER BY l.n
), queued AS (
    INSERT INTO outbox (event_id, event_type, body)
    SELECT e.event_id, e.event_type, e.body
    FROM changed, unnest($23::uuid[], $24::text[], $25::text[])
        WITH ORDINALITY AS e(event_id, event_type, body, n)
    ORDER BY e.n
)
SELECT count(*) FROM changed"""


async def save_comment(
    connection: Connection,
    ticket: TicketRecord,
    comment: Comment,
    *,
    row_version: int | None,
    lines: Sequence[Line],
    events: Sequence[EventPayload],
    producer: str,
) -> bool:
    """Write ``comment`` and what it changed on ``ticket`` (see COMMENT_SQL) if the row is
    still at ``row_version`` (None: the caller holds it locked); False (nothing written) if
    it changed in between."""
    written = await connection.fetchval(
        COMMENT_SQL,
        ticket.id,
        row_version,
        ticket.updated_at,
        ticket.first_response_at,
        ticket.first_response_seconds,
        ticket.sla_next_check_at,
        comment.id,
        comment.author_id,
        comment.author_name,
        comment.author_role,
        comment.body,
        comment.internal,
        comment.created_at,
        *_line_arrays(lines),
        *_event_arrays(events, producer=producer),
    )
    return bool(written)


# -- the arrays of lines and events -------------------------------------------------------


def _json(value: dict[str, Any] | None) -> str | None:
    # As text: independent of the connection's JSON codecs.
    return None if value is None else json.dumps(value)


def _line_arrays(lines: Sequence[Line]) -> tuple[list[Any], ...]:
    """The timeline's columns as arrays, for ``unnest`` (at, kind, actor id, name, role,
    before, after, note, internal)."""
    return (
        [line.at for line in lines],
        [line.kind for line in lines],
        [line.actor.user_id for line in lines],
        [line.actor.name for line in lines],
        [line.actor.role for line in lines],
        [_json(line.before) for line in lines],
        [_json(line.after) for line in lines],
        [line.note for line in lines],
        [line.internal for line in lines],
    )


def _event_arrays(
    events: Sequence[EventPayload], *, producer: str
) -> tuple[list[Any], list[Any], list[Any]]:
    """The outbox's columns as arrays, for ``unnest`` (event id, type, body)."""
    rows = [outbox_row(event, producer=producer) for event in events]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
