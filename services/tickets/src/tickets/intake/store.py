"""The intake's statements (plain SQL on the write path's asyncpg connection, as
``tickets.tickets.store``), run inside the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from tickets.tickets.store import Connection

# One source at a time: a second request with the same key waits here until the first's
# transaction ends, then finds its row.
LOCK_SOURCE = "SELECT pg_advisory_xact_lock(hashtextextended('tickets.intake:' || $1, 0))"

FIND_SOURCE = """
SELECT s.ticket_id, s.comment_id, s.reopened, t.number, t.status
FROM intake_sources s JOIN tickets t ON t.id = s.ticket_id
WHERE s.source_key = $1"""

INSERT_SOURCE = """
INSERT INTO intake_sources (source_key, ticket_id, comment_id, reopened, created_at)
VALUES ($1, $2, $3, $4, $5)"""

ACTIVE_MEMBER = "SELECT full_name, unit_id, role FROM users WHERE id = $1 AND is_active"


@dataclass(frozen=True)
class Source:
    ticket_id: uuid.UUID
    comment_id: uuid.UUID | None
    reopened: bool
    number: str
    status: str


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    name: str
    unit_id: uuid.UUID | None
    role: str


async def lock_source(connection: Connection, source_key: str) -> None:
    await connection.execute(LOCK_SOURCE, source_key)


async def find_source(connection: Connection, source_key: str) -> Source | None:
    row = await connection.fetchrow(FIND_SOURCE, source_key)
    if row is None:
        return None
    return Source(
        ticket_id=row["ticket_id"],
        comment_id=row["comment_id"],
        reopened=row["reopened"],
        number=row["number"],
        status=row["status"],
    )


async def insert_source(
    connection: Connection,
    source_key: str,
    *,
    ticket_id: uuid.UUID,
    comment_id: uuid.UUID | None,
    reopened: bool,
    now: datetime,
) -> None:
    await connection.execute(INSERT_SOURCE, source_key, ticket_id, comment_id, reopened, now)


async def active_member(connection: Connection, user_id: uuid.UUID) -> Member | None:
    """An active user of the local directory, with their role and unit."""
    row = await connection.fetchrow(ACTIVE_MEMBER, user_id)
    if row is None:
        return None
    return Member(user_id, str(row["full_name"]), row["unit_id"], str(row["role"]))
