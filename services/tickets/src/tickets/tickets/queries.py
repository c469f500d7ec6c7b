"""Reading tickets: lookup by id or number, unit scoping, search and keyset pagination
(``helpdesk_common.pagination``; the listing's name in a cursor is its sort order).

The list stays fast at a million tickets (bench/list_scale.py) because each sort's order,
tie-breaker included, is an index's order (migration 0008: created, updated, due, number,
priority with id) so a page reads about a page of index entries, and because the values
that choose a partial index (the statuses, the overdue condition's) are written into the
SQL as constants: a parameter would let PostgreSQL's generic plan of a prepared statement
ignore the partial index."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Select

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import INTERNAL_ROLES
from helpdesk_common.directory import DirectoryUnit as Unit
from helpdesk_common.errors import InvalidInput, NotFound
from helpdesk_common.pagination import (
    after,
    cursor_datetime,
    cursor_int4,
    cursor_text,
    cursor_uuid,
    decode_cursor,
    encode_cursor,
    page_of,
)
from tickets.masterdata.models import Priority
from tickets.shared import Loaded
from tickets.tickets.models import Comment, Ticket, TimelineEntry
from tickets.tickets.numbering import NUMBER_PATTERN

# Stands in for "no due date" so that sorting by due date puts those last. In the SQL as a
# constant, the very expression of the due index (ix_tickets_due).
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)
FAR_FUTURE_SQL = sa.literal_column(
    "'9999-12-31 00:00:00+00'::timestamptz", sa.DateTime(timezone=True)
)
DUE_SORT_KEY = sa.func.coalesce(Ticket.resolution_due_at, FAR_FUTURE_SQL)
OPEN_STATUSES = ("new", "in_progress", "pending")
# The statuses whose resolution clock may run (pending and resolved pause it).
CLOCK_STATUSES = ("new", "in_progress")


# Memory for a list statement's bitmaps and sorts (the server's default is 4 MB).
LIST_WORK_MEM = "32MB"


def constant(value: Any) -> ColumnElement[Any]:
    """``value`` written into the SQL rather than sent as a parameter, for what the planner
    must see to choose a partial index (a generic plan knows nothing of a parameter)."""
    return sa.literal(value, literal_execute=True)


def status_in(statuses: Sequence[str]) -> ColumnElement[bool]:
    return Ticket.status.in_([constant(status) for status in statuses])


def parse_ref(ref: str) -> uuid.UUID | str:
    """A ticket's UUID, or its number (``TKT-2026-000123``, any case) as a string."""
    value = ref.strip()
    if NUMBER_PATTERN.match(value.upper()):
        return value.upper()
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(
            "invalid_ticket_id",
            "Not a ticket id: expected a UUID or a ticket number such as TKT-2026-000123",
            field="ticket_id",
        ) from None


def ticket_matches(ref: str) -> ColumnElement[bool]:
    """A ticket by its UUID or by its number."""
    key = parse_ref(ref)
    return Ticket.number == key if isinstance(key, str) else Ticket.id == key


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Requesters see their own unit's tickets only; staff and leaders see all."""
    if principal.role not in INTERNAL_ROLES:
        if principal.unit_id is None:
            return sa.false()
        return Ticket.unit_id == principal.unit_id
    return sa.true()


async def load_ticket(
    session: AsyncSession, *, principal: Principal, ref: str, lock: bool = False
) -> Loaded[Ticket]:
    """The ticket, or 404 (also for a ticket the caller may not see: no hint it exists)."""
    query = (
        sa.select(Ticket, Unit.name)
        .join(Unit, Unit.id == Ticket.unit_id)
        .where(ticket_matches(ref), visible_to(principal))
    )
    if lock:
        query = query.with_for_update(of=Ticket)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("not_found", "Ticket not found")
    return Loaded(ticket=row[0], unit_name=row[1])


@dataclass(frozen=True)
class TicketFilters:
    statuses: Sequence[str] = ()
    unit_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    priority: str | None = None
    assignee_id: uuid.UUID | None = None
    unassigned: bool = False
    requester_id: uuid.UUID | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue: bool | None = None
    q: str | None = None


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool

    @property
    def expression(self) -> ColumnElement[Any]:
        return SORT_EXPRESSIONS[self.name]


SORT_EXPRESSIONS: dict[str, Any] = {
    "created_at": Ticket.created_at,
    "updated_at": Ticket.updated_at,
    "number": Ticket.number,
    # The export orders by the joined rank; the list pages through each priority apart
    # (``_search_by_priority``).
    "priority": Priority.rank,
    "due": DUE_SORT_KEY,
}
TIMESTAMP_SORTS = {"created_at", "updated_at", "due"}


def parse_sort(value: str) -> SortKey:
    descending = value.startswith("-")
    name = value.lstrip("-+")
    if name not in SORT_EXPRESSIONS:
        raise InvalidInput(
            "invalid_sort",
            f"Unknown sort {name!r}; use one of {', '.join(SORT_EXPRESSIONS)} "
            "(prefix '-' for descending)",
            field="sort",
        )
    return SortKey(name=name, descending=descending)


def _cursor_value(sort: SortKey) -> Callable[[Any], Any]:
    """How a cursor's sort key value is read back for ``sort``."""
    if sort.name in TIMESTAMP_SORTS:
        return cursor_datetime
    if sort.name == "priority":
        return cursor_int4  # a priority's rank: an INTEGER
    return cursor_text


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Past a due date whose clock runs (the list's ``overdue`` filter, the export's column):
    a new ticket not answered by its first-response due date, or a new or in-progress
    ticket whose resolution clock runs (not paused) past its resolution due date.

    Written as ``status IN ('new', 'in_progress') AND (...)``, the same truth value (NULLs
    included) as the two branches each naming their statuses, so that the planner proves
    the open tickets' partial index (ix_tickets_open_created) and reads the 2-3 % of open
    tickets instead of a million."""
    return sa.and_(status_in(CLOCK_STATUSES), _clock_overdue(now))


def _clock_overdue(now: datetime) -> ColumnElement[bool]:
    """The overdue condition for a ticket of a clock status (new or in progress)."""
    return sa.or_(
        sa.and_(
            Ticket.status == constant("new"),
            Ticket.first_response_at.is_(None),
            Ticket.first_response_due_at <= now,
        ),
        sa.and_(Ticket.sla_paused_since.is_(None), Ticket.resolution_due_at <= now),
    )


# session.info key: the transaction whose list statements plan_for_the_values has set up.
_PLANNED_IN = "tickets_planned_for_the_values"


async def plan_for_the_values(session: AsyncSession) -> None:
    """Have PostgreSQL plan the list's statements for their values every time, without JIT,
    for the rest of the transaction.

    A prepared statement run a sixth time may otherwise get a generic plan, made without
    the values: for ``q`` it then guesses every word rare and reads the full-text index
    for "printer" (a third of a million tickets, 50 ms) where the values' plan stops after
    a few pages of the sort's index; the same for a rare unit, a requester, a date range.
    Planning costs a millisecond or two; a wrong plan, seconds. JIT compiles a plan whose
    estimated cost is high, which a page's plan (a LIMIT over an index) often is on
    paper: 250 ms of compiling for a query of 5 ms (the priority sort of one unit).
    ``work_mem`` lets the bitmap of a common word and a unit (a count with ``q``: tens of
    thousands of tickets) stay exact rather than lossy, whose pages would all be read
    again and every row on them rechecked: a unit's count of a 5 % word 130 -> 40 ms.

    Once per transaction: the first page and its count share one."""
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_PLANNED_IN) is transaction:
        return
    await session.execute(
        sa.text(
            "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
            f" set_config('jit', 'off', true), set_config('work_mem', '{LIST_WORK_MEM}', true)"
        )
    )
    session.info[_PLANNED_IN] = session.get_transaction()


def apply_filters(query: Select[Any], *, filters: TicketFilters, now: datetime) -> Select[Any]:
    statuses = list(filters.statuses)
    if filters.overdue is True:
        # Overdue implies a clock status: one status condition, not two (the planner would
        # multiply their selectivities and guess a twentieth of the open tickets).
        statuses = [s for s in statuses or CLOCK_STATUSES if s in CLOCK_STATUSES]
        query = query.where(status_in(statuses), _clock_overdue(now))
    elif statuses:
        query = query.where(status_in(statuses))
    if filters.unit_id is not None:
        query = query.where(Ticket.unit_id == filters.unit_id)
    if filters.category_id is not None:
        query = query.where(Ticket.category_id == filters.category_id)
    if filters.priority is not None:
        query = query.where(Ticket.priority == filters.priority)
    if filters.assignee_id is not None:
        query = query.where(Ticket.assignee_id == filters.assignee_id)
    if filters.unassigned:
        query = query.where(Ticket.assignee_id.is_(None))
    if filters.requester_id is not None:
        query = query.where(Ticket.requester_id == filters.requester_id)
    if filters.created_from is not None:
        query = query.where(Ticket.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(Ticket.created_at < filters.created_to)
    if filters.overdue is False:
        query = query.where(sa.not_(overdue_condition(now)))
    if filters.q:
        text = filters.q.strip()
        if NUMBER_PATTERN.match(text.upper()):
            query = query.where(Ticket.number == text.upper())
        else:
            query = query.where(
                Ticket.search.bool_op("@@")(sa.func.websearch_to_tsquery("indonesian", text))
            )
    return query


async def search_tickets(
    session: AsyncSession,
    *,
    principal: Principal,
    filters: TicketFilters,
    sort: SortKey,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> tuple[list[Loaded[Ticket]], str | None]:
    values = (
        decode_cursor(cursor, listing=sort.name, parse=[_cursor_value(sort), cursor_uuid])
        if cursor
        else None
    )
    await plan_for_the_values(session)
    if sort.name == "priority":
        query = _by_priority(principal, filters, sort, values, limit=limit, now=now)
    else:
        query = _by_key(principal, filters, sort, values, limit=limit, now=now)
    rows = (await session.execute(query)).all()
    page, next_cursor = page_of(
        rows,
        limit=limit,
        cursor_after=lambda row: encode_cursor(sort.name, row.sort_key, row[0].id),
    )
    return [Loaded(ticket=row[0], unit_name=row[1]) for row in page], next_cursor


def _by_key(
    principal: Principal,
    filters: TicketFilters,
    sort: SortKey,
    values: list[Any] | None,
    *,
    limit: int,
    now: datetime,
) -> Select[Any]:
    """A page in the order of a column of the ticket (and its id): the order of an index,
    which the row comparison with the cursor's values continues."""
    key = sort.expression
    query = (
        sa.select(Ticket, Unit.name, key.label("sort_key"))
        .join(Unit, Unit.id == Ticket.unit_id)
        .where(visible_to(principal))
    )
    query = apply_filters(query, filters=filters, now=now)
    if values is not None:
        query = query.where(after([key, Ticket.id], values, descending=sort.descending))
    if sort.descending:
        query = query.order_by(key.desc(), Ticket.id.desc())
    else:
        query = query.order_by(key.asc(), Ticket.id.asc())
    return query.limit(limit + 1)


def _by_priority(
    principal: Principal,
    filters: TicketFilters,
    sort: SortKey,
    values: list[Any] | None,
    *,
    limit: int,
    now: datetime,
) -> Select[Any]:
    """A page in the order of the priorities' rank (master data, which an administrator
    may change), then id.

    No index of the tickets holds the rank, so each priority is paged apart, in id order
    along the (priority, id) index: for each priority (a lateral join) the first
    ``limit + 1`` of its tickets past the cursor, and of those the first ``limit + 1`` by
    (rank, id). Past a cursor, the priorities ranked like the cursor's continue after its
    id and those ranked past it start from their first ticket: two lateral joins, so that
    each has a plain id bound or none (one bound chosen per priority by a CASE looked
    selective to the planner, which then read a priority's whole index: 80 ms a page)."""
    descending = sort.descending

    def pages(ranks: ColumnElement[bool], after_id: uuid.UUID | None) -> Select[Any]:
        inner = sa.select(Ticket.id).where(Ticket.priority == Priority.code, visible_to(principal))
        inner = apply_filters(inner, filters=filters, now=now)
        if after_id is not None:
            inner = inner.where(Ticket.id < after_id if descending else Ticket.id > after_id)
        page = (
            inner.order_by(Ticket.id.desc() if descending else Ticket.id.asc())
            .limit(limit + 1)
            .lateral("page")
        )
        return (
            sa.select(page.c.id, Priority.rank)
            .select_from(Priority)
            .join(page, sa.true())
            .where(ranks)
        )

    if values is None:
        ranked = pages(sa.true(), None).subquery("ranked")
    else:
        rank, last_id = values
        beyond = Priority.rank < rank if descending else Priority.rank > rank
        ranked = sa.union_all(pages(Priority.rank == rank, last_id), pages(beyond, None)).subquery(
            "ranked"
        )
    rank_order = ranked.c.rank.desc() if descending else ranked.c.rank.asc()
    return (
        sa.select(Ticket, Unit.name, ranked.c.rank.label("sort_key"))
        .join(ranked, ranked.c.id == Ticket.id)
        .join(Unit, Unit.id == Ticket.unit_id)
        .order_by(rank_order, Ticket.id.desc() if descending else Ticket.id.asc())
        .limit(limit + 1)
    )


async def count_tickets(
    session: AsyncSession,
    *,
    principal: Principal,
    filters: TicketFilters,
    now: datetime,
    cap: int,
) -> tuple[int, bool]:
    """How many tickets the list with ``filters`` holds for ``principal``: (count, exact).

    Counted up to ``cap`` only: the database stops after ``cap + 1`` matching rows, so a
    count costs at most that many index entries however many tickets there are; above it
    the answer is (cap, False), "more than cap"."""
    await plan_for_the_values(session)
    count = await session.scalar(
        capped_count(principal=principal, filters=filters, now=now, cap=cap)
    )
    return _capped(count, cap)


# SQLSTATE query_canceled: a statement_timeout (or a cancel request) stopped the statement.
QUERY_CANCELED = "57014"


def cancelled(error: DBAPIError) -> bool:
    """Whether PostgreSQL cancelled the statement (its time ran out), rather than failed."""
    return getattr(error.orig, "sqlstate", None) == QUERY_CANCELED


async def count_tickets_within(
    session: AsyncSession,
    *,
    principal: Principal,
    filters: TicketFilters,
    now: datetime,
    cap: int,
    timeout_ms: int,
) -> tuple[int, bool] | None:
    """``count_tickets``, or None when it takes longer than ``timeout_ms``.

    A capped count of a full-text match with another filter cannot be answered from the
    GIN index alone: it reads every candidate row from the table (39,000 blocks, 160 ms
    at a million tickets for a category and a common word) while the page itself takes a
    few milliseconds. So the count runs in a savepoint under a ``statement_timeout``; when
    PostgreSQL cancels it, rolling back to the savepoint undoes the timeout with the
    failed statement, and the rest of the request goes on in the same transaction. The
    previous timeout is put back after a count that finished (a released savepoint keeps
    its SET LOCAL). Within 0 ms or less: None at once (PostgreSQL reads 0 as no limit)."""
    if timeout_ms <= 0:
        return None
    await plan_for_the_values(session)
    statement = capped_count(principal=principal, filters=filters, now=now, cap=cap)
    try:
        async with session.begin_nested():
            previous = await session.scalar(
                sa.text(
                    "SELECT current_setting('statement_timeout'),"
                    " set_config('statement_timeout', :timeout, true)"
                ),
                {"timeout": f"{timeout_ms}ms"},
            )
            count = await session.scalar(statement)
            await session.execute(
                sa.text("SELECT set_config('statement_timeout', :previous, true)"),
                {"previous": previous},
            )
    except DBAPIError as error:
        if not cancelled(error):
            raise
        return None
    return _capped(count, cap)


def _capped(count: int | None, cap: int) -> tuple[int, bool]:
    """(count, exact) from a count of up to ``cap + 1`` rows."""
    return (cap, False) if (count or 0) > cap else (count or 0, True)


def capped_count(
    *, principal: Principal, filters: TicketFilters, now: datetime, cap: int
) -> Select[int]:
    """``SELECT count(*) FROM (SELECT 1 FROM tickets WHERE <visible, filters> LIMIT cap+1)``:
    the list's rows (same visibility and filters, no join needed: every ticket has a unit)
    counted up to one past ``cap``."""
    matching = apply_filters(
        sa.select(sa.literal(1).label("one")).select_from(Ticket).where(visible_to(principal)),
        filters=filters,
        now=now,
    ).limit(cap + 1)
    return sa.select(sa.func.count()).select_from(matching.subquery("matching"))


async def list_comments(
    session: AsyncSession, *, principal: Principal, ticket_id: uuid.UUID
) -> list[Comment]:
    query = sa.select(Comment).where(Comment.ticket_id == ticket_id)
    if principal.role not in INTERNAL_ROLES:
        query = query.where(sa.not_(Comment.internal))
    return list((await session.scalars(query.order_by(Comment.created_at, Comment.id))).all())


async def list_timeline(
    session: AsyncSession, *, principal: Principal, ticket_id: uuid.UUID
) -> list[TimelineEntry]:
    query = sa.select(TimelineEntry).where(TimelineEntry.ticket_id == ticket_id)
    if principal.role not in INTERNAL_ROLES:
        query = query.where(sa.not_(TimelineEntry.internal))
    return list((await session.scalars(query.order_by(TimelineEntry.id))).all())
