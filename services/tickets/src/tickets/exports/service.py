"""Ticket data export (seed 004 "Ekspor Data"): the columns a caller may choose, the privacy
policy for personal data, the rows (streamed from a server-side cursor) and the export log.

Functions take a session and never commit: the views own every unit of work (the export's
stream has sessions of its own, opened inside the response body's generator).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import ROLES, Role
from helpdesk_common.directory import DirectoryUnit as Unit
from helpdesk_common.errors import InvalidInput, PermissionDenied
from helpdesk_common.pagination import after, cursor_int, decode_cursor, encode_cursor, page_of
from helpdesk_documents.labels import Language
from tickets.exports.columns import COLUMNS, DEFAULT_COLUMNS, ExportColumn, Formatter
from tickets.exports.models import ExportLog, ExportPolicy
from tickets.masterdata.models import Priority
from tickets.masterdata.service import audit
from tickets.tickets import queries
from tickets.tickets.filters import TicketSelection
from tickets.tickets.models import Ticket

# Rows fetched from the server-side cursor at a time: memory stays flat at any size.
BATCH_SIZE = 1000
DEFAULT_CONTACT_ROLES: tuple[Role, ...] = ("admin",)
LOG_LISTING = "export_log"


# -- privacy policy ------------------------------------------------------------------------


async def get_policy(session: AsyncSession) -> ExportPolicy:
    """The privacy policy (the migration writes its row; the default if it is missing)."""
    policy = await session.get(ExportPolicy, 1)
    if policy is None:
        return ExportPolicy(id=1, contact_roles=list(DEFAULT_CONTACT_ROLES), updated_at=None)
    return policy


async def set_policy(
    session: AsyncSession, *, actor: Principal, contact_roles: Sequence[Role], now: datetime
) -> ExportPolicy:
    """Set the roles that may export personal data, recording who did it (and in the
    master-data audit log, with the roles before and after)."""
    roles: list[str] = [role for role in ROLES if role in set(contact_roles)]
    policy = await session.get(ExportPolicy, 1, with_for_update=True)
    before = list(policy.contact_roles) if policy else list(DEFAULT_CONTACT_ROLES)
    if policy is None:
        policy = ExportPolicy(id=1)
        session.add(policy)
    policy.contact_roles = roles
    policy.updated_at = now
    policy.updated_by_id = actor.user_id
    policy.updated_by_name = actor.name or str(actor.user_id)
    audit(
        session,
        actor=actor,
        action="export_policy.updated",
        entity_id="export_policy",
        before={"contact_roles": before},
        after={"contact_roles": roles},
    )
    await session.flush()
    return policy


def may_export_personal_data(role: str, policy: ExportPolicy) -> bool:
    return role in policy.contact_roles


# -- columns -------------------------------------------------------------------------------


def parse_columns(value: str | None) -> list[str]:
    """Column keys from ``a,b,c`` (the default set when none are given), duplicates dropped."""
    keys = [key.strip() for key in (value or "").split(",") if key.strip()]
    return list(dict.fromkeys(keys)) or list(DEFAULT_COLUMNS)


def choose_columns(keys: Sequence[str], *, role: str, policy: ExportPolicy) -> list[ExportColumn]:
    """The columns for ``keys``: 422 ``unknown_column`` for a key that is none, 403
    ``personal_data_not_allowed`` for personal data the privacy policy keeps from ``role``."""
    unknown = [key for key in keys if key not in COLUMNS]
    if unknown:
        raise InvalidInput(
            "unknown_column",
            f"Unknown column {', '.join(unknown)}; use {', '.join(COLUMNS)}",
            field="columns",
        )
    personal = [key for key in keys if COLUMNS[key].personal]
    if personal and not may_export_personal_data(role, policy):
        raise PermissionDenied(
            "personal_data_not_allowed",
            f"Your role may not export personal data ({', '.join(personal)}): the privacy"
            " policy allows it to " + (", ".join(policy.contact_roles) or "no role"),
            field="columns",
        )
    return [COLUMNS[key] for key in keys]


# -- rows ----------------------------------------------------------------------------------


def export_query(
    columns: Sequence[ExportColumn],
    *,
    principal: Principal,
    selection: TicketSelection,
    now: datetime,
) -> Select[Any]:
    """The chosen columns of the tickets the list shows for the same filters, in its order."""
    sort = selection.sort
    key = sort.expression
    query = (
        sa.select(*(column.source(now).label(column.key) for column in columns))
        .select_from(Ticket)
        .join(Unit, Unit.id == Ticket.unit_id)
        .where(queries.visible_to(principal))
    )
    if sort.name == "priority":
        query = query.join(Priority, Priority.code == Ticket.priority)
    query = queries.apply_filters(query, filters=selection.filters, now=now)
    if sort.descending:
        return query.order_by(key.desc(), Ticket.id.desc())
    return query.order_by(key.asc(), Ticket.id.asc())


async def begin_snapshot(session: AsyncSession) -> None:
    """Start the export's transaction: one consistent snapshot for every row however long
    the download takes (REPEATABLE READ), read only."""
    await session.connection(
        execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    )


@dataclass
class Progress:
    rows: int = 0


async def export_rows(
    session: AsyncSession,
    *,
    columns: Sequence[ExportColumn],
    principal: Principal,
    selection: TicketSelection,
    formatter: Formatter,
    now: datetime,
    progress: Progress,
) -> AsyncGenerator[list[object], None]:
    """The rows as spreadsheet values, read from a server-side cursor ``BATCH_SIZE`` at a
    time; ``progress.rows`` counts the rows handed on."""
    query = export_query(columns, principal=principal, selection=selection, now=now)
    formats = [formatter.for_kind(column.kind) for column in columns]
    result = await session.stream(query, execution_options={"yield_per": BATCH_SIZE})
    async for batch in result.partitions():
        for row in batch:
            progress.rows += 1
            yield [fmt(value) for fmt, value in zip(formats, row, strict=True)]


# -- the export log ------------------------------------------------------------------------


async def start_log(
    session: AsyncSession,
    *,
    principal: Principal,
    selection: TicketSelection,
    columns: Sequence[ExportColumn],
    language: Language,
    now: datetime,
) -> ExportLog:
    entry = ExportLog(
        user_id=principal.user_id,
        user_name=principal.name or str(principal.user_id),
        user_role=principal.role,
        started_at=now,
        filters=selection.describe(),
        columns=[column.key for column in columns],
        language=language,
        status="running",
    )
    session.add(entry)
    await session.flush()
    return entry


async def finish_log(
    session: AsyncSession, *, log_id: int, status: str, row_count: int, now: datetime
) -> None:
    await session.execute(
        sa.update(ExportLog)
        .where(ExportLog.id == log_id)
        .values(status=status, row_count=row_count, finished_at=now)
    )


async def list_log(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[list[ExportLog], str | None]:
    """Exports, newest first, in keyset pages."""
    query = sa.select(ExportLog).order_by(ExportLog.id.desc())
    if cursor:
        (last_id,) = decode_cursor(cursor, listing=LOG_LISTING, parse=[cursor_int])
        query = query.where(after([ExportLog.id], [last_id], descending=True))
    rows = list((await session.scalars(query.limit(limit + 1))).all())
    return page_of(rows, limit=limit, cursor_after=lambda e: encode_cursor(LOG_LISTING, e.id))


def export_filename(language: Language, day: str) -> str:
    return f"{'tickets' if language == 'en' else 'tiket'}-{day}.csv"
