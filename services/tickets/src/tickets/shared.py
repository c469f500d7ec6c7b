"""Values the service's packages share: a ticket with its unit's name, actors, JSON values
and the ticket snapshot every ``ticket.*`` event carries.

Service-wide so that ``sla/`` and ``masterdata/`` need nothing from inside ``tickets/tickets/``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.tickets import Actor, TicketSnapshot, TicketStatus

if TYPE_CHECKING:
    from tickets.masterdata.cache import MasterData
    from tickets.tickets.record import AnyTicket

# The kind of ticket: the ORM model (reads) or the write path's TicketRecord.
T_co = TypeVar("T_co", covariant=True)

SYSTEM_ACTOR = Actor(user_id=None, name="Sistem", role="system")


@dataclass(frozen=True)
class Loaded(Generic[T_co]):
    """A ticket with the name of its unit (from the local directory)."""

    ticket: T_co
    unit_name: str | None


def actor_of(principal: Principal) -> Actor:
    return Actor(
        user_id=principal.user_id,
        name=principal.name or str(principal.user_id),
        role=principal.role,
    )


def jsonable(value: Any) -> Any:
    """A value as it is stored in JSON columns (the timeline's before/after, the audit log)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def ticket_url(web_base_url: str | None, ticket: AnyTicket) -> str | None:
    # The web client routes with the URL fragment (a static page behind the gateway).
    return f"{web_base_url.rstrip('/')}/#/tickets/{ticket.id}" if web_base_url else None


def snapshot(
    loaded: Loaded[AnyTicket], *, master: MasterData, web_base_url: str | None
) -> TicketSnapshot:
    """The ticket as its events show it (and the internal snapshot backfill, the same).

    Take it after the change is applied: every field it carries must be the ticket's as
    committed with the event.
    """
    t = loaded.ticket
    return TicketSnapshot(
        ticket_id=t.id,
        number=t.number,
        title=t.title,
        status=cast(TicketStatus, t.status),  # the column's CHECK allows these only
        priority=t.priority,
        category_id=t.category_id,
        category_name=master.category_name(t.category_id),
        unit_id=t.unit_id,
        unit_name=loaded.unit_name,
        requester_id=t.requester_id,
        requester_name=t.requester_name,
        contact_name=t.contact_name,
        assignee_id=t.assignee_id,
        assignee_name=t.assignee_name,
        created_at=t.created_at,
        first_response_at=t.first_response_at,
        resolved_at=t.resolved_at,
        closed_at=t.closed_at,
        first_response_due_at=t.first_response_due_at,
        resolution_due_at=t.resolution_due_at,
        version=t.version,
        channel=t.channel,
        updated_at=t.updated_at,
        first_response_seconds=t.first_response_seconds,
        resolution_seconds=t.resolution_seconds,
        first_response_breached_at=t.first_response_breached_at,
        resolution_breached_at=t.resolution_breached_at,
        escalation_level=t.escalation_level,
        reopen_count=t.reopen_count,
        result_summary=t.result_summary,
        # Beyond the contract's fields (it allows extras): for e-mails and dashboards.
        priority_name=master.priority_name(t.priority),
        url=ticket_url(web_base_url, t),
    )
