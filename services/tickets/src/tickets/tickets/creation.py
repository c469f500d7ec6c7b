"""The create path's single statement: draw the number, insert the ticket, its first
timeline line and its ``ticket.created`` event, in one round trip that commits by itself.

Creating tickets is the hot path (hundreds a second at peak). One SQL statement does it all:

    WITH drawn AS (SELECT units.name, nextval(<year's sequence>) FROM units
                   WHERE id = $unit AND is_active),
         inserted AS (INSERT INTO tickets (...) SELECT ..., <number> FROM drawn
                      RETURNING id, number),
         logged AS (INSERT INTO timeline (...) SELECT ..., inserted.id FROM inserted),
         queued AS (INSERT INTO outbox (...) SELECT <event with number and unit name>
                    FROM inserted, drawn)
    SELECT inserted.number, drawn.unit_name FROM inserted, drawn

A statement is atomic, so it runs on an asyncpg connection outside any transaction (the
service's driver pool, ``helpdesk_common.db.create_driver_pool``): no BEGIN and COMMIT
round trips around it. The event is
prepared in Python before the number and the unit's name are known; the statement puts
them into its JSON. An unknown or inactive unit yields no row: nothing is inserted, no
number is drawn. The SQL is plain text sent to asyncpg, which prepares it once per
connection: the SQLAlchemy layers would cost more CPU than the database's own work.
"""

from __future__ import annotations

import uuid
from typing import Any

from tickets.tickets.models import (
    TICKET_COLUMNS,
    Ticket,
    TimelineEntry,
    json_param,
    sql_placeholder,
)

# Filled in by the statement (number) or by the database (search, the timeline's id).
_TICKET_COLUMNS = [c for c in TICKET_COLUMNS if c.name != "number"]
_TIMELINE_COLUMNS = [
    c for c in TimelineEntry.__table__.columns if c.name not in ("id", "ticket_id")
]


def _build() -> str:
    ticket_values = ", ".join(sql_placeholder(c, i) for i, c in enumerate(_TICKET_COLUMNS, start=6))
    first_line = 6 + len(_TICKET_COLUMNS)
    line_values = ", ".join(
        sql_placeholder(c, i) for i, c in enumerate(_TIMELINE_COLUMNS, start=first_line)
    )
    return f"""
WITH drawn AS (
    SELECT units.name AS unit_name, nextval($1::text::regclass) AS value
    FROM units WHERE id = $2::uuid AND is_active
), inserted AS (
    INSERT INTO tickets ({", ".join(c.name for c in _TICKET_COLUMNS)}, number)
    SELECT {ticket_values},
        -- At least six digits (TKT-2026-000123), more once a year passes a million tickets.
        $3::text || lpad(value::text, greatest(6, length(value::text)), '0')
    FROM drawn
    RETURNING id, number
), logged AS (
    INSERT INTO timeline ({", ".join(c.name for c in _TIMELINE_COLUMNS)}, ticket_id)
    SELECT {line_values}, inserted.id FROM inserted
), queued AS (
    INSERT INTO outbox (event_id, event_type, body)
    SELECT $4::uuid, $5::text, jsonb_set(
        jsonb_set(${first_line + len(_TIMELINE_COLUMNS)}::text::jsonb,
                  '{{payload,ticket,number}}', to_jsonb(inserted.number)),
        '{{payload,ticket,unit_name}}', to_jsonb(drawn.unit_name))::text
    FROM inserted, drawn
)
SELECT inserted.number, drawn.unit_name FROM inserted, drawn"""


CREATE_SQL = _build()


async def insert_new_ticket(
    connection: Any,
    *,
    ticket: Ticket,
    line: dict[str, Any],
    event: tuple[uuid.UUID, str, str],
    sequence: str,
    number_prefix: str,
) -> tuple[str, str] | None:
    """Insert ``ticket``, its timeline ``line`` (column -> value) and ``event`` (id, type,
    body) on an autocommit asyncpg ``connection``; (number, unit name), or None for an
    unknown unit."""
    row = await connection.fetchrow(
        CREATE_SQL,
        sequence,
        ticket.unit_id,
        number_prefix,
        event[0],
        event[1],
        *(getattr(ticket, c.key) for c in _TICKET_COLUMNS),
        *(json_param(line.get(c.name)) for c in _TIMELINE_COLUMNS),
        event[2],
    )
    if row is None:
        return None
    return str(row["number"]), str(row["unit_name"])
