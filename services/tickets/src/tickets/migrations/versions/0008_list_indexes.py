"""The ticket list's indexes: each sort's keyset order, the open tickets (issue 12).

Each sort of ``GET /tickets`` pages along an index in its own order, tie-breaker (id)
included, so a page reads about a page of index entries at a million tickets
(``tickets.tickets.queries``): updated_at, the due date as the list sorts it (no due date
last), the priority (paged one priority at a time, in id order) and a requester's
tickets (newest first). The open tickets
(new, in progress, pending: a few per cent of a big table) get a partial index in the
list's default order, which the status filters and the overdue filter read instead of
the whole table.

Cost on an existing table: a plain ``CREATE INDEX`` in the migration's transaction, which
blocks writes to the tickets (not reads) while it builds. Measured on the 2-core VM with
1,000,000 tickets (1 GB with its indexes), other test suites running: 10.5 s for the five
(updated 3.0 s, due 1.6 s, priority 3.4 s, requester 2.1 s, open 0.4 s), 190 MB of index.
A deployment with many more tickets can build them beforehand without blocking writes,
under the same names with ``CREATE INDEX CONCURRENTLY`` (the statements below with that
word added); the migration then finds them and skips them (``IF NOT EXISTS``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name -> (key, WHERE of a partial index)
INDEXES: dict[str, tuple[str, str | None]] = {
    "ix_tickets_updated": ("updated_at, id", None),
    "ix_tickets_due": (
        "(coalesce(resolution_due_at, '9999-12-31 00:00:00+00'::timestamptz)), id",
        None,
    ),
    "ix_tickets_priority": ("priority, id", None),
    "ix_tickets_requester": ("requester_id, created_at, id", None),
    "ix_tickets_open_created": (
        "created_at, id",
        "status IN ('new', 'in_progress', 'pending')",
    ),
}


def upgrade() -> None:
    for name, (key, where) in INDEXES.items():
        partial = f" WHERE {where}" if where else ""
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON tickets ({key}){partial}")


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.execute(f"DROP INDEX IF EXISTS {name}")
