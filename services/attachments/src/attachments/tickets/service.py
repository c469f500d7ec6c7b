"""Which tickets a user may see files of, and whether a ticket takes new files.

The rules are the tickets service's (a requester sees only their unit's tickets: 404
otherwise, exactly as there; leaders read only); the facts come from the local copy of
the tickets, filled from ``ticket.*`` events, or, for a ticket created a moment ago whose
event has not arrived, from the tickets service's internal API once.
"""

from __future__ import annotations

import uuid

import aiohttp
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
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


async def upsert_snapshot(session: AsyncSession, *, ticket: TicketSnapshot) -> None:
    """Newest version wins: an older or repeated snapshot changes nothing."""
    values = {
        "id": ticket.ticket_id,
        "number": ticket.number,
        "title": ticket.title,
        "unit_id": ticket.unit_id,
        "status": ticket.status,
        "requester_id": ticket.requester_id,
        "assignee_id": ticket.assignee_id,
        "version": ticket.version,
    }
    statement = pg_insert(KnownTicket).values(**values)
    updated = {key: statement.excluded[key] for key in values if key != "id"}
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[KnownTicket.id],
            set_=updated,
            where=KnownTicket.version < statement.excluded.version,
        )
    )


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
