"""Reading tickets: lookup by id or number, unit scoping, search and keyset pagination
(``helpdesk_common.pagination``; the listing's name in a cursor is its sort order)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Select

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import INTERNAL_ROLES
from helpdesk_common.directory import DirectoryUnit as Unit
from helpdesk_common.errors import InvalidInput, NotFound
from helpdesk_common.pagination import (
    after,
    cursor_datetime,
    cursor_int,
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

# Stands in for "no due date" so that sorting by due date puts those last.
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)


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
    "priority": Priority.rank,
    "due": sa.func.coalesce(Ticket.resolution_due_at, FAR_FUTURE),
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
        return cursor_int
    return cursor_text


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Past a due date whose clock runs (the list's ``overdue`` filter, the export's column)."""
    return sa.or_(
        sa.and_(
            Ticket.status == "new",
            Ticket.first_response_at.is_(None),
            Ticket.first_response_due_at <= now,
        ),
        sa.and_(
            Ticket.status.in_(("new", "in_progress")),
            Ticket.sla_paused_since.is_(None),
            Ticket.resolution_due_at <= now,
        ),
    )


def apply_filters(query: Select[Any], *, filters: TicketFilters, now: datetime) -> Select[Any]:
    if filters.statuses:
        query = query.where(Ticket.status.in_(filters.statuses))
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
    if filters.overdue is True:
        query = query.where(overdue_condition(now))
    elif filters.overdue is False:
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
    key = sort.expression
    query = (
        sa.select(Ticket, Unit.name, key.label("sort_key"))
        .join(Unit, Unit.id == Ticket.unit_id)
        .where(visible_to(principal))
    )
    if sort.name == "priority":
        query = query.join(Priority, Priority.code == Ticket.priority)
    query = apply_filters(query, filters=filters, now=now)
    if cursor:
        # The listing's name in the cursor is the sort order: a cursor of another is invalid.
        values = decode_cursor(cursor, listing=sort.name, parse=[_cursor_value(sort), cursor_uuid])
        query = query.where(after([key, Ticket.id], values, descending=sort.descending))
    if sort.descending:
        query = query.order_by(key.desc(), Ticket.id.desc())
    else:
        query = query.order_by(key.asc(), Ticket.id.asc())
    rows = (await session.execute(query.limit(limit + 1))).all()
    page, next_cursor = page_of(
        rows,
        limit=limit,
        cursor_after=lambda row: encode_cursor(sort.name, row.sort_key, row[0].id),
    )
    return [Loaded(ticket=row[0], unit_name=row[1]) for row in page], next_cursor


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
    count = await session.scalar(
        capped_count(principal=principal, filters=filters, now=now, cap=cap)
    )
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
