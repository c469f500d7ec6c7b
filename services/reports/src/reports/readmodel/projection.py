"""The projection, pure: a ticket's facts from its snapshot, which of two snapshots wins,
and what a ticket adds to each rollup.

No I/O here, so every rule is unit-tested on its own and the store (``store.py``) only moves
rows. A rollup row is the sum of what its tickets contribute; when a ticket changes, the
store subtracts what its old facts contributed and adds what its new facts contribute.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from helpdesk_common.contracts.tickets import TicketSnapshot
from reports.readmodel.histogram import PREFIXES, bucket_of

# Rollup keys cannot hold NULL (they are primary keys): "no category", "nobody assigned".
NONE_ID: Final = uuid.UUID(int=0)
DEFAULT_CHANNEL: Final = "web"
OPEN_STATUSES: Final = ("new", "in_progress", "pending")
STATUSES: Final = ("new", "in_progress", "pending", "resolved", "closed", "rejected")

# What a rollup row counts. Each measure belongs to one anchor: the date a ticket adds it on.
#   created: tickets created that day, by their status now, with their first response and
#            SLA outcome (the cohort of the day's requests);
#   resolved: tickets resolved that day, their resolution time, how many had been reopened;
#   done: tickets that left the open backlog that day (resolved, closed or rejected).
CREATED_MEASURES: Final = (
    "created",
    *(f"st_{status}" for status in STATUSES),
    "responded",
    "fr_seconds",
    "fr_met",
    "fr_breached",
    "res_met",
    "res_breached",
    "escalated",
)
RESOLVED_MEASURES: Final = ("resolved", "res_seconds", "reopened")
DONE_MEASURES: Final = ("done",)
MEASURES: Final = (*CREATED_MEASURES, *RESOLVED_MEASURES, *DONE_MEASURES)

DIMENSIONS: Final = ("unit_id", "category_id", "priority", "channel", "assignee_id")


@dataclass(frozen=True)
class Fact:
    """One ticket as the reports see it (a row of ``ticket_facts``)."""

    ticket_id: uuid.UUID
    version: int
    number: str
    title: str
    status: str
    priority: str
    channel: str
    unit_id: uuid.UUID
    category_id: uuid.UUID
    assignee_id: uuid.UUID
    unit_name: str | None
    category_name: str | None
    assignee_name: str | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    # When the ticket left the open backlog (resolved, closed or rejected); None while open.
    done_at: datetime | None
    first_response_seconds: int | None
    resolution_seconds: int | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_response_breached_at: datetime | None
    resolution_breached_at: datetime | None
    escalation_level: int
    reopen_count: int
    result_summary: str | None


FACT_COLUMNS: Final = tuple(f.name for f in fields(Fact))


def fact_of(ticket: TicketSnapshot) -> Fact:
    status = ticket.status
    if ticket.resolved_at is not None:
        done_at: datetime | None = ticket.resolved_at
    elif ticket.closed_at is not None:
        done_at = ticket.closed_at
    elif status == "rejected":
        # Rejected is final: the last change is the rejection.
        done_at = ticket.updated_at or ticket.created_at
    else:
        done_at = None
    return Fact(
        ticket_id=ticket.ticket_id,
        version=ticket.version,
        number=ticket.number,
        title=ticket.title,
        status=status,
        priority=ticket.priority,
        channel=ticket.channel or DEFAULT_CHANNEL,
        unit_id=ticket.unit_id,
        category_id=ticket.category_id or NONE_ID,
        assignee_id=ticket.assignee_id or NONE_ID,
        unit_name=ticket.unit_name,
        category_name=ticket.category_name,
        assignee_name=ticket.assignee_name,
        created_at=ticket.created_at,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        done_at=done_at,
        first_response_seconds=ticket.first_response_seconds,
        resolution_seconds=ticket.resolution_seconds,
        first_response_due_at=ticket.first_response_due_at,
        resolution_due_at=ticket.resolution_due_at,
        first_response_breached_at=ticket.first_response_breached_at,
        resolution_breached_at=ticket.resolution_breached_at,
        escalation_level=ticket.escalation_level,
        reopen_count=ticket.reopen_count,
        result_summary=ticket.result_summary,
    )


def merge(stored: Fact | None, incoming: Fact) -> Fact | None:
    """The facts after ``incoming`` arrives, or None when it changes nothing.

    The newer version wins, so a redelivered or late event never overwrites newer state.
    The SLA stamps and the escalation level change without a new version (the tickets
    service's scheduler) and only ever go from unset to set and up, so they are merged
    whichever snapshot is newer.
    """
    if stored is None:
        return incoming
    newer, older = (incoming, stored) if incoming.version > stored.version else (stored, incoming)
    merged = replace(
        newer,
        first_response_breached_at=newer.first_response_breached_at
        or older.first_response_breached_at,
        resolution_breached_at=newer.resolution_breached_at or older.resolution_breached_at,
        escalation_level=max(newer.escalation_level, older.escalation_level),
    )
    return None if merged == stored else merged


def _sla_outcome(
    done_at: datetime | None, due_at: datetime | None, breached_at: datetime | None
) -> str | None:
    """'met', 'breached', or None (no target, or the clock still runs within it)."""
    if due_at is None:
        return None
    if breached_at is not None or (done_at is not None and done_at > due_at):
        return "breached"
    return "met" if done_at is not None else None


def sla_outcomes(fact: Fact) -> tuple[str | None, str | None]:
    """The first-response and resolution SLA outcomes of a ticket."""
    first_response = _sla_outcome(
        fact.first_response_at, fact.first_response_due_at, fact.first_response_breached_at
    )
    # A rejected ticket has no resolution to measure; a breach before it still counts.
    resolved_at = fact.resolved_at if fact.status != "rejected" else None
    resolution = _sla_outcome(resolved_at, fact.resolution_due_at, fact.resolution_breached_at)
    return first_response, resolution


# (local day, unit, category, priority, channel, assignee)
Key = tuple[date, uuid.UUID, uuid.UUID, str, str, uuid.UUID]


def contributions(fact: Fact, *, timezone: ZoneInfo) -> dict[Key, Counter[str]]:
    """What one ticket adds to the finest rollup, by local day and every dimension (and,
    under ``histogram.PREFIXES`` names, to the duration histograms)."""

    def key(at: datetime) -> Key:
        return (
            at.astimezone(timezone).date(),
            fact.unit_id,
            fact.category_id,
            fact.priority,
            fact.channel,
            fact.assignee_id,
        )

    out: dict[Key, Counter[str]] = {}
    created: Counter[str] = Counter(created=1)
    created[f"st_{fact.status}"] += 1
    if fact.first_response_seconds is not None:
        created["responded"] += 1
        created["fr_seconds"] += fact.first_response_seconds
        created[f"{PREFIXES['first_response']}{bucket_of(fact.first_response_seconds)}"] += 1
    first_response, resolution = sla_outcomes(fact)
    if first_response:
        created[f"fr_{first_response}"] += 1
    if resolution:
        created[f"res_{resolution}"] += 1
    if fact.escalation_level > 0:
        created["escalated"] += 1
    out[key(fact.created_at)] = created
    if fact.resolved_at is not None:
        resolved = out.setdefault(key(fact.resolved_at), Counter())
        resolved["resolved"] += 1
        resolved["res_seconds"] += fact.resolution_seconds or 0
        if fact.resolution_seconds is not None:
            resolved[f"{PREFIXES['resolution']}{bucket_of(fact.resolution_seconds)}"] += 1
        if fact.reopen_count > 0:
            resolved["reopened"] += 1
    if fact.done_at is not None:
        out.setdefault(key(fact.done_at), Counter())["done"] += 1
    return out


def difference(
    old: dict[Key, Counter[str]], new: dict[Key, Counter[str]]
) -> dict[Key, Counter[str]]:
    """``new`` minus ``old``, per key, without the keys where nothing changes."""
    delta: dict[Key, Counter[str]] = {}
    for key in old.keys() | new.keys():
        change: Counter[str] = Counter(new.get(key, {}))
        change.subtract(old.get(key, {}))
        change = Counter({m: v for m, v in change.items() if v})
        if change:
            delta[key] = change
    return delta
