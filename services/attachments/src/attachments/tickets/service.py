"""Which tickets a user may see files of, and whether a ticket takes new files.

The rules are the tickets service's (a requester sees only their unit's tickets: 404
otherwise, exactly as there; leaders read only); the facts come from the local copy of
the tickets, filled from ``ticket.*`` events, or, for a ticket created a moment ago whose
event has not arrived, from the tickets service's internal API once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import aiohttp
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.settings import AttachmentsSettings
from attachments.tickets.models import KnownTicket
from helpdesk_common.auth import Principal
from helpdesk_common.contracts.tickets import TicketSnapshot
from helpdesk_common.errors import Conflict, NotFound, PermissionDenied, Unavailable

# A ticket in one of these takes no new files.
CLOSED_STATUSES = frozenset({"closed", "rejected"})
# The uploader may delete their own file while the ticket is in one of these.
OPEN_STATUSES = frozenset({"new", "in_progress", "pending"})
WRITER_ROLES = frozenset({"requester", "agent", "admin"})


def ticket_not_found() -> NotFound:
    return NotFound("ticket_not_found", "Ticket not found")


# Newest version wins: a row is replaced only by a strictly newer snapshot, so an older or
# repeated one (events come twice or out of order) changes nothing. All the snapshots of a
# consumer's batch in one statement whose text does not depend on the batch's size (arrays
# through ``unnest``, not a VALUES row per snapshot compiled again for every size).
_UPSERT_SNAPSHOTS = sa.text(
    f"INSERT INTO {KnownTicket.__tablename__}"
    " (id, number, title, unit_id, status, requester_id, assignee_id, version)"
    " SELECT * FROM unnest(:ids, :numbers, :titles, :unit_ids, :statuses, :requester_ids,"
    " :assignee_ids, :versions)"
    " ON CONFLICT (id) DO UPDATE SET number = excluded.number, title = excluded.title,"
    " unit_id = excluded.unit_id, status = excluded.status,"
    " requester_id = excluded.requester_id, assignee_id = excluded.assignee_id,"
    f" version = excluded.version WHERE {KnownTicket.__tablename__}.version < excluded.version"
).bindparams(
    *(
        sa.bindparam(name, type_=pg.ARRAY(pg.UUID(as_uuid=True)))
        for name in ("ids", "unit_ids", "requester_ids", "assignee_ids")
    ),
    *(sa.bindparam(name, type_=pg.ARRAY(sa.Text())) for name in ("numbers", "titles", "statuses")),
    sa.bindparam("versions", type_=pg.ARRAY(sa.BigInteger())),
)


def newest_per_ticket(snapshots: Iterable[TicketSnapshot]) -> list[TicketSnapshot]:
    """Each ticket's newest snapshot (of equal versions the first, as one upsert after the
    other would keep), ordered by ticket: one row per ticket, as ON CONFLICT DO UPDATE
    requires, and rows locked in the same order by concurrent batches (no deadlock)."""
    newest: dict[uuid.UUID, TicketSnapshot] = {}
    for snapshot in snapshots:
        kept = newest.get(snapshot.ticket_id)
        if kept is None or kept.version < snapshot.version:
            newest[snapshot.ticket_id] = snapshot
    return [newest[ticket_id] for ticket_id in sorted(newest)]


async def upsert_snapshots(session: AsyncSession, snapshots: Iterable[TicketSnapshot]) -> None:
    """Keep the local copy of these tickets, newest version wins (in one statement)."""
    rows = newest_per_ticket(snapshots)
    if not rows:
        return
    await session.execute(
        _UPSERT_SNAPSHOTS,
        {
            "ids": [t.ticket_id for t in rows],
            "numbers": [t.number for t in rows],
            "titles": [t.title for t in rows],
            "unit_ids": [t.unit_id for t in rows],
            "statuses": [t.status for t in rows],
            "requester_ids": [t.requester_id for t in rows],
            "assignee_ids": [t.assignee_id for t in rows],
            "versions": [t.version for t in rows],
        },
    )


async def upsert_snapshot(session: AsyncSession, *, ticket: TicketSnapshot) -> None:
    """Newest version wins: an older or repeated snapshot changes nothing."""
    await upsert_snapshots(session, [ticket])


async def fetch_snapshot(
    settings: AttachmentsSettings, ticket_id: uuid.UUID
) -> TicketSnapshot | None:
    """The tickets service's snapshot of one ticket (None: it has no such ticket)."""
    url = f"{settings.tickets_url.rstrip('/')}/internal/ticket-snapshots/{ticket_id}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client,
            client.get(url, headers={"X-Internal-Token": settings.internal_token}) as response,
        ):
            if response.status == 404:
                return None
            if response.status != 200:
                raise Unavailable(
                    "tickets_unavailable",
                    f"The tickets service answered {response.status}; try again shortly",
                )
            return TicketSnapshot.model_validate_json(await response.read())
    except (aiohttp.ClientError, TimeoutError, ValidationError) as exc:
        raise Unavailable(
            "tickets_unavailable", "The tickets service is not reachable; try again shortly"
        ) from exc


async def find_ticket(
    session: AsyncSession,
    *,
    settings: AttachmentsSettings,
    ticket_id: uuid.UUID,
    lock: bool = False,
) -> KnownTicket | None:
    """The ticket from the local copy, else (created a moment ago) from the tickets service."""
    statement = sa.select(KnownTicket).where(KnownTicket.id == ticket_id)
    if lock:
        statement = statement.with_for_update()
    ticket = await session.scalar(statement)
    if ticket is not None:
        return ticket
    snapshot = await fetch_snapshot(settings, ticket_id)
    if snapshot is None:
        return None
    await upsert_snapshot(session, ticket=snapshot)
    return await session.scalar(statement.execution_options(populate_existing=True))


def check_visible(ticket: KnownTicket | None, principal: Principal) -> KnownTicket:
    """404 for a ticket that does not exist or that the caller may not see."""
    if ticket is None:
        raise ticket_not_found()
    if principal.role == "requester" and ticket.unit_id != principal.unit_id:
        raise ticket_not_found()
    return ticket


def check_takes_files(ticket: KnownTicket, principal: Principal) -> None:
    if principal.role not in WRITER_ROLES:
        raise PermissionDenied("read_only_role", "Leaders see files but do not upload them")
    check_open(ticket)


def check_open(ticket: KnownTicket) -> None:
    """A closed or rejected ticket takes no new files (409 ``ticket_closed``)."""
    if ticket.status in CLOSED_STATUSES:
        raise Conflict(
            "ticket_closed",
            f"Ticket {ticket.number} is {ticket.status}: it takes no new files",
            extra={"status": ticket.status},
        )


async def visible_ticket(
    session: AsyncSession,
    *,
    settings: AttachmentsSettings,
    principal: Principal,
    ticket_id: uuid.UUID,
    lock: bool = False,
) -> KnownTicket:
    ticket = await find_ticket(session, settings=settings, ticket_id=ticket_id, lock=lock)
    return check_visible(ticket, principal)
