"""The ticket list's indexes: each sort's keyset order, the open tickets (issue 12).

Each sort of ``GET /tickets`` pages along an index in its own order, tie-breaker (id)
included, so a page reads about a page of index entries at a million tickets
(``tickets.tickets.queries``): updated_at, the due date as the list sorts it (no due date
last), the priority (paged one priority at a time, in id order) and a requester's
tickets (newest first). The open tickets (new, in progress, pending: a few per cent of a
big table) get a partial index in the list's default order, which the status filters and
the overdue filter read instead of the whole table. Counts read an index alone: the open
tickets' index and the unit's include the columns the filters and the overdue condition
read; the open tickets are also indexed in each other sort's order. The search column
keeps the frequencies of more words, for ``q``.

Cost on an existing table: plain ``CREATE INDEX`` in the migration's transaction, which
blocks writes to the tickets (not reads) until it commits. Measured on the 2-core VM with
1,000,000 tickets (650 MB of rows): 6.0 s in all (the unit's covering index 1.3 s, the
search column's ANALYZE 1.8 s, each other index 0.1-0.8 s; 10-12 s while other test
suites loaded the machine); the table's indexes grow from 335 MB to 602 MB.
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

# What a count of the list reads besides the key (``capped_count``: up to 10,001 entries),
# so that it reads them from the index alone (an index-only scan) and not from as many
# heap pages: the filters' columns and the overdue condition's.
COUNTED = (
    "status, category_id, priority, assignee_id, first_response_at, first_response_due_at,"
    " sla_paused_since, resolution_due_at"
)
OPEN = "status IN ('new', 'in_progress', 'pending')"
DUE_KEY = "(coalesce(resolution_due_at, '9999-12-31 00:00:00+00'::timestamptz)), id"
# name -> (key, INCLUDE, WHERE of a partial index)
INDEXES: dict[str, tuple[str, str | None, str | None]] = {
    "ix_tickets_updated": ("updated_at, id", None, None),
    "ix_tickets_due": (DUE_KEY, None, None),
    "ix_tickets_priority": ("priority, id", None, None),
    # A unit's tickets by priority (every requester's list is a unit's): each priority's
    # page walks the unit's entries only (a requester's priority sort with a search word:
    # 70 -> 7 ms at a million tickets, where ix_tickets_priority read 40 times as many).
    "ix_tickets_unit_priority": ("unit_id, priority, id", None, None),
    "ix_tickets_requester": ("requester_id, created_at, id", None, None),
    "ix_tickets_open_created": (
        "created_at, id",
        f"unit_id, {COUNTED}",
        OPEN,
    ),
    # The open tickets in each other sort's order: a filter that keeps to them (overdue,
    # open statuses) walks a few thousand entries, not the whole table's index.
    "ix_tickets_open_updated": ("updated_at, id", None, OPEN),
    "ix_tickets_open_due": (DUE_KEY, None, OPEN),
    "ix_tickets_open_priority": ("priority, id", None, OPEN),
    "ix_tickets_open_number": ("number", None, OPEN),
    # Takes the place of ix_tickets_unit_created (the same key): a unit's counts.
    "ix_tickets_unit_list": ("unit_id, created_at, id", COUNTED, None),
}
REPLACED = "ix_tickets_unit_created"
SEARCH_STATISTICS = 1000


def upgrade() -> None:
    for name, (key, include, where) in INDEXES.items():
        covering = f" INCLUDE ({include})" if include else ""
        partial = f" WHERE {where}" if where else ""
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON tickets ({key}){covering}{partial}")
    op.execute(f"DROP INDEX IF EXISTS {REPLACED}")
    # The frequencies of ten times as many words: with the default the planner guessed a
    # word of 0.1 % of the tickets (not among the 100 most common ones) five times as
    # common and walked 28,000 tickets of the sort's index for a page (77 ms) instead of
    # sorting the word's 970 (4 ms). Sampled now (1.5 s at a million tickets).
    op.execute(f"ALTER TABLE tickets ALTER COLUMN search SET STATISTICS {SEARCH_STATISTICS}")
    op.execute("ANALYZE tickets (search)")
    # Four rows, never analysed (autovacuum waits for 50 changes): the planner guessed 710
    # priorities and costed the priority sort's lateral join accordingly.
    op.execute("ANALYZE priorities")


def downgrade() -> None:
    op.execute("ALTER TABLE tickets ALTER COLUMN search SET STATISTICS -1")
    op.execute(f"CREATE INDEX IF NOT EXISTS {REPLACED} ON tickets (unit_id, created_at, id)")
    for name in reversed(INDEXES):
        op.execute(f"DROP INDEX IF EXISTS {name}")
