"""Writing the read model: facts and rollups of a batch of tickets in one transaction.

For each generation written (the live one, and the one a rebuild fills), the batch's tickets
are locked (advisory locks, in key order), their stored facts read and merged with the
incoming ones (``projection.merge``) and, for each ticket that changed, what its old facts
contributed to the rollups and histograms is subtracted and what its new ones contribute
added: one statement per table for the whole batch, its rows in key order. Replicas
projecting at once therefore never deadlock (every transaction takes its locks in the same
order) and never count a ticket twice (it is locked while its contribution changes).

Plain asyncpg statements on the session's connection (``driver_connection``): a batch is
thousands of rows, which SQLAlchemy's per-row compilation would make several times slower.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from operator import attrgetter
from zoneinfo import ZoneInfo

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts.tickets import TicketSnapshot
from helpdesk_common.db import driver_connection
from reports.readmodel.histogram import PREFIXES
from reports.readmodel.models import (
    ROLLUP_TABLES,
    dimension_names,
    duration_histogram,
    ticket_facts,
)
from reports.readmodel.projection import (
    FACT_COLUMNS,
    MEASURES,
    Fact,
    Key,
    contributions,
    difference,
    fact_of,
    merge,
)
from reports.readmodel.rollups import ROLLUPS, Rollup

CHANGED_CHANNEL = "reports_changed"

# A transaction-scoped advisory lock per ticket, taken in key order before anything is read
# or written: two transactions projecting the same ticket (a batch of events and a rebuild's
# page, or two replicas) take turns, the second reading what the first wrote, so a new
# ticket is never counted twice and nobody deadlocks over the rows they insert.
_LOCK_TICKETS = """
SELECT count(pg_advisory_xact_lock(key))
FROM (SELECT key FROM unnest($1::bigint[]) AS key ORDER BY key) AS ordered
"""

_SELECT_FACTS = f"""
SELECT {", ".join(FACT_COLUMNS)} FROM ticket_facts
WHERE generation = $1 AND ticket_id = ANY($2::uuid[])
"""


def _bulk_upsert(
    table: sa.Table, columns: Sequence[str], conflict: Sequence[str], action: str
) -> str:
    """One statement for all rows: each column an array (``unnest``), rows in array order.

    Per row, a statement of its own (``executemany``) costs the database several times
    the work of one more row of this one.
    """
    types = [table.c[c].type.compile(dialect=postgresql.dialect()) for c in columns]
    arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 1))
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join(conflict)}) {action}"
    )


_FACT_ROW = ("generation", *FACT_COLUMNS)
_UPSERT_FACT = _bulk_upsert(
    ticket_facts,
    _FACT_ROW,
    ("generation", "ticket_id"),
    "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in FACT_COLUMNS if c != "ticket_id"),
)

_HISTOGRAM_KEY = ("generation", "metric", "kind", "month", "value", "bucket")
_UPSERT_HISTOGRAM = _bulk_upsert(
    duration_histogram,
    (*_HISTOGRAM_KEY, "n"),
    _HISTOGRAM_KEY,
    "DO UPDATE SET n = duration_histogram.n + excluded.n",
)

# The histogram's kinds: every ticket, and per value of each dimension (Key's positions).
_HISTOGRAM_KINDS: tuple[tuple[str, int | None], ...] = (
    ("all", None),
    ("unit", 1),
    ("category", 2),
    ("priority", 3),
    ("channel", 4),
    ("agent", 5),
)

_UPSERT_NAME = _bulk_upsert(
    dimension_names,
    ("kind", "key", "name"),
    ("kind", "key"),
    "DO UPDATE SET name = excluded.name WHERE dimension_names.name IS DISTINCT FROM excluded.name",
)


def _upsert_rollup(rollup: Rollup) -> str:
    key_columns = ("generation", rollup.grain, *rollup.dimensions)
    updates = ", ".join(f"{m} = {rollup.table}.{m} + excluded.{m}" for m in MEASURES)
    return _bulk_upsert(
        ROLLUP_TABLES[rollup.table],
        (*key_columns, *MEASURES),
        key_columns,
        f"DO UPDATE SET {updates}",
    )


_UPSERT_ROLLUP = {rollup.table: _upsert_rollup(rollup) for rollup in ROLLUPS}


async def _write(
    connection: asyncpg.Connection, sql: str, rows: Sequence[tuple[object, ...]]
) -> None:
    """``rows`` (in the order their locks are to be taken) with one ``_bulk_upsert``."""
    if rows:
        await connection.execute(sql, *(list(column) for column in zip(*rows, strict=True)))


_COLUMNS_OF = attrgetter(*FACT_COLUMNS)


def _columns(fact: Fact) -> tuple[object, ...]:
    """The fact's values in FACT_COLUMNS order."""
    return tuple(_COLUMNS_OF(fact))


def _lock_key(ticket_id: uuid.UUID) -> int:
    return int.from_bytes(ticket_id.bytes[:8], "big", signed=True)


def _fact(row: asyncpg.Record) -> Fact:
    return Fact(**{c: row[c] for c in FACT_COLUMNS})


def _sort_key(key: tuple[object, ...]) -> tuple[str, ...]:
    return tuple(str(part) for part in key)


async def apply_snapshots(
    session: AsyncSession,
    snapshots: Iterable[TicketSnapshot],
    *,
    generations: Sequence[int],
    timezone: ZoneInfo,
) -> int:
    """Project tickets into each of ``generations``; returns how many fact rows changed."""
    incoming: dict[uuid.UUID, Fact] = {}
    names: dict[tuple[str, str], str] = {}
    for snapshot in snapshots:
        _collect_names(names, snapshot)
        fact = fact_of(snapshot)
        merged = merge(incoming.get(fact.ticket_id), fact)
        if merged is not None:
            incoming[fact.ticket_id] = merged
    if not incoming:
        return 0
    connection = await driver_connection(session)
    changed: set[uuid.UUID] = set()
    for generation in generations:
        changed |= await _apply(connection, incoming, generation=generation, timezone=timezone)
    await _write(
        connection, _UPSERT_NAME, [(kind, key, name) for (kind, key), name in sorted(names.items())]
    )
    if changed:
        # Delivered at commit: the live dashboards refresh (those of the units named).
        units = {incoming[ticket_id].unit_id for ticket_id in changed}
        await connection.execute("SELECT pg_notify($1, $2)", CHANGED_CHANNEL, change_payload(units))
    return len(changed)


def change_payload(units: set[uuid.UUID]) -> str:
    """The notification's payload: the units whose figures changed (``*``: too many to
    name within PostgreSQL's 8,000-byte limit)."""
    return ",".join(sorted(map(str, units))) if len(units) <= 100 else "*"


async def _apply(
    connection: asyncpg.Connection,
    incoming: dict[uuid.UUID, Fact],
    *,
    generation: int,
    timezone: ZoneInfo,
) -> set[uuid.UUID]:
    """Project into one generation; returns the tickets whose facts changed."""
    ids = sorted(incoming)
    await connection.fetchval(_LOCK_TICKETS, sorted({_lock_key(i) for i in ids}))
    rows = await connection.fetch(_SELECT_FACTS, generation, ids)
    stored = {row["ticket_id"]: _fact(row) for row in rows}
    written: list[Fact] = []
    deltas: dict[Key, Counter[str]] = {}
    for ticket_id in ids:
        old = stored.get(ticket_id)
        new = merge(old, incoming[ticket_id])
        if new is None:
            continue
        written.append(new)
        before = contributions(old, timezone=timezone) if old is not None else {}
        for key, change in difference(before, contributions(new, timezone=timezone)).items():
            deltas.setdefault(key, Counter()).update(change)
    if not written:
        return set()
    await _write(connection, _UPSERT_FACT, [(generation, *_columns(fact)) for fact in written])
    for rollup in ROLLUPS:
        per_key: dict[tuple[object, ...], Counter[str]] = {}
        for key, change in deltas.items():
            per_key.setdefault(rollup.key(key), Counter()).update(change)
        rows_out = [
            (generation, *key, *(change.get(m, 0) for m in MEASURES))
            for key, change in sorted(per_key.items(), key=lambda item: _sort_key(item[0]))
            if any(change.values())
        ]
        await _write(connection, _UPSERT_ROLLUP[rollup.table], rows_out)
    await _write(
        connection, _UPSERT_HISTOGRAM, [(generation, *row) for row in _histogram_rows(deltas)]
    )
    return {fact.ticket_id for fact in written}


def _histogram_rows(deltas: dict[Key, Counter[str]]) -> list[tuple[object, ...]]:
    """The histogram's changes, in key order: (metric, kind, month, value, bucket, n)."""
    changes: Counter[tuple[str, str, date, str, int]] = Counter()
    for key, change in deltas.items():
        month = key[0].replace(day=1)
        for measure, count in change.items():
            for metric, prefix in PREFIXES.items():
                if not measure.startswith(prefix):
                    continue
                bucket = int(measure.removeprefix(prefix))
                for kind, position in _HISTOGRAM_KINDS:
                    value = "" if position is None else str(key[position])
                    changes[metric, kind, month, value, bucket] += count
    return [(*key, n) for key, n in sorted(changes.items()) if n]


def _collect_names(names: dict[tuple[str, str], str], ticket: TicketSnapshot) -> None:
    """The names a snapshot gives to what figures are grouped by."""
    if ticket.category_id is not None and ticket.category_name:
        names["category", str(ticket.category_id)] = ticket.category_name
    if ticket.unit_name:
        names["unit", str(ticket.unit_id)] = ticket.unit_name
    if ticket.assignee_id is not None and ticket.assignee_name:
        names["agent", str(ticket.assignee_id)] = ticket.assignee_name
    # Beyond the contract (it allows extras): the tickets service names its priorities.
    priority_name = (ticket.model_extra or {}).get("priority_name")
    if isinstance(priority_name, str) and priority_name:
        names["priority", ticket.priority] = priority_name
