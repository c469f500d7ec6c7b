"""The SLA scheduler: warnings, breaches, escalations and the auto-close of resolved tickets.

Safe with several replicas: each pass claims a batch of due tickets with
``FOR UPDATE SKIP LOCKED`` (a ticket another replica is handling is skipped, not waited
for), records on the ticket that a threshold fired in the same transaction as its event,
and moves the ticket's ``sla_next_check_at`` on. A threshold therefore fires once per ticket,
however many replicas run and however often they look.

What fires is decided by :func:`fire_thresholds` (pure, like a lifecycle action); the
batches are read and each ticket written with the tickets write path's store, in one
transaction on a connection of the driver pool. SLA bookkeeping does not change a ticket's
version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from helpdesk_common.contracts.envelope import EventPayload
from helpdesk_common.contracts.tickets import (
    SlaTarget,
    TicketEscalated,
    TicketSlaBreached,
    TicketSlaWarning,
)
from helpdesk_common.errors import log_failure
from helpdesk_common.outbox import wake_relays
from tickets.masterdata.cache import MasterData
from tickets.metrics import SCHEDULER_ROUND, SLA_EVENTS
from tickets.runtime import TicketsRuntime
from tickets.shared import SYSTEM_ACTOR, Loaded, snapshot
from tickets.sla.schedule import first_response_running, next_check, resolution_running
from tickets.tickets import lifecycle, store
from tickets.tickets.changes import Line, Rules, authorise
from tickets.tickets.record import TicketRecord

log = logging.getLogger("tickets.sla")

TARGET_LABELS = {"first_response": "respons pertama", "resolution": "penyelesaian"}
TARGETS: tuple[SlaTarget, ...] = ("first_response", "resolution")


@dataclass
class Fired:
    """What the scheduler writes with one ticket: its timeline lines and events."""

    lines: list[Line] = field(default_factory=list)
    events: list[EventPayload] = field(default_factory=list)
    # (event, target) pairs, for the metrics.
    labels: list[tuple[str, str]] = field(default_factory=list)


def fire_thresholds(
    loaded: Loaded[TicketRecord],
    *,
    master: MasterData,
    now: datetime,
    warning_ratio: float,
    escalation_roles: list[str],
    web_base_url: str | None,
) -> Fired:
    """Stamp on the ticket every threshold due by ``now`` and say what fired."""
    ticket = loaded.ticket
    fired = Fired()
    # The events are made once every stamp is on the ticket, with one snapshot taken then:
    # a breach's event shows the breach, an escalation's the new level (and each shows
    # whatever else fired in this pass, as committed with it).
    events: list[Callable[..., EventPayload]] = []  # each takes ticket=<snapshot>

    def fire(kind: str, target: str, *, after: dict[str, object], note: str) -> None:
        fired.labels.append((kind, target))
        fired.lines.append(
            Line(at=now, kind=kind, actor=SYSTEM_ACTOR, after=after, note=note, internal=True)
        )

    for target in TARGETS:
        running = (
            first_response_running(ticket)
            if target == "first_response"
            else resolution_running(ticket)
        )
        if not running:
            continue
        warn_at = getattr(ticket, f"{target}_warn_at")
        due_at = getattr(ticket, f"{target}_due_at")
        escalate_at = getattr(ticket, f"{target}_escalate_at")
        if due_at is None:
            continue
        if (
            warn_at is not None
            and warn_at <= now
            and getattr(ticket, f"{target}_warned_at") is None
        ):
            setattr(ticket, f"{target}_warned_at", now)
            # Late scheduler (replicas down): a warning after the breach helps nobody.
            if due_at > now:
                fire(
                    "sla_warning",
                    target,
                    after={"target": target, "due_at": due_at.isoformat()},
                    note=f"Peringatan SLA: target {TARGET_LABELS[target]} hampir terlewati",
                )
                events.append(
                    partial(
                        TicketSlaWarning,
                        actor=SYSTEM_ACTOR,
                        target=target,
                        due_at=due_at,
                        threshold=warning_ratio,
                    )
                )
        if due_at <= now and getattr(ticket, f"{target}_breached_at") is None:
            setattr(ticket, f"{target}_breached_at", now)
            fire(
                "sla_breached",
                target,
                after={"target": target, "due_at": due_at.isoformat()},
                note=f"SLA terlewati: target {TARGET_LABELS[target]}",
            )
            events.append(
                partial(TicketSlaBreached, actor=SYSTEM_ACTOR, target=target, due_at=due_at)
            )
        if (
            escalate_at is not None
            and escalate_at <= now
            and getattr(ticket, f"{target}_escalated_at") is None
        ):
            setattr(ticket, f"{target}_escalated_at", now)
            ticket.escalation_level += 1
            roles = list(escalation_roles)
            reason = (
                f"Eskalasi otomatis: target {TARGET_LABELS[target]} terlewati"
                f" (jatuh tempo {due_at.astimezone(master.calendar.timezone):%d-%m-%Y %H:%M})"
            )
            fire(
                "escalated",
                target,
                after={
                    "target": target,
                    "escalation_level": ticket.escalation_level,
                    "escalated_to_roles": roles,
                },
                note=reason,
            )
            events.append(
                partial(
                    TicketEscalated,
                    actor=SYSTEM_ACTOR,
                    target=target,
                    reason=reason,
                    escalated_to_roles=roles,
                )
            )
    ticket.sla_next_check_at = next_check(ticket)
    if events:
        after = snapshot(loaded, master=master, web_base_url=web_base_url)
        fired.events = [event(ticket=after) for event in events]
    return fired


async def run_sla_pass(runtime: TicketsRuntime, *, now: datetime) -> int:
    """Fire every threshold due by ``now`` for one batch of tickets; returns the batch size."""
    settings = runtime.settings
    master = await runtime.masterdata.get()
    labels: list[tuple[str, str]] = []
    async with runtime.require_driver_pool().acquire() as connection, connection.transaction():
        batch = await store.lock_sla_due(connection, now=now, limit=settings.scheduler_batch_size)
        for loaded in batch:
            fired = fire_thresholds(
                loaded,
                master=master,
                now=now,
                warning_ratio=settings.sla_warning_ratio,
                escalation_roles=settings.escalation_roles,
                web_base_url=settings.web_base_url,
            )
            await store.save_change(
                connection,
                loaded.ticket,
                row_version=None,  # locked by this transaction
                lines=fired.lines,
                events=fired.events,
                producer=runtime.producer,
            )
            labels += fired.labels
    if labels:
        wake_relays()
    for event, target in labels:
        SLA_EVENTS.labels(event, target).inc()
    return len(batch)


async def run_auto_close_pass(runtime: TicketsRuntime, *, now: datetime) -> int:
    """Close one batch of resolved tickets older than ``auto_close_days``."""
    settings = runtime.settings
    rules = Rules(
        policy=runtime.policy,
        master=await runtime.masterdata.get(),
        ratios=runtime.ratios,
        web_base_url=settings.web_base_url,
    )
    cutoff = now - timedelta(days=settings.auto_close_days)
    async with runtime.require_driver_pool().acquire() as connection, connection.transaction():
        batch = await store.lock_resolved_before(
            connection, cutoff=cutoff, limit=settings.scheduler_batch_size
        )
        for loaded in batch:
            change = authorise(
                rules,
                loaded=loaded,
                actor=SYSTEM_ACTOR,
                action="auto_close",
                expected_version=None,
                now=now,
            )
            lifecycle.auto_close(change, after_days=settings.auto_close_days)
            await store.save_change(
                connection,
                change.ticket,
                row_version=None,  # locked by this transaction
                lines=change.lines,
                events=change.events,
                producer=runtime.producer,
            )
    if batch:
        wake_relays()
        SLA_EVENTS.labels("auto_close", "resolution").inc(len(batch))
    return len(batch)


async def run_scheduler_once(runtime: TicketsRuntime, *, now: datetime) -> None:
    """Work through everything due by ``now``, batch by batch."""
    batch = runtime.settings.scheduler_batch_size
    while await run_sla_pass(runtime, now=now) >= batch:
        pass
    while await run_auto_close_pass(runtime, now=now) >= batch:
        pass


async def sla_scheduler(runtime: TicketsRuntime) -> None:
    """Background worker: one round every ``scheduler_interval_seconds``."""
    while True:
        try:
            with SCHEDULER_ROUND.time():
                await run_scheduler_once(runtime, now=datetime.now(UTC))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The database may be briefly away; the next round picks up where this stopped.
            log_failure(log, "SLA scheduler round failed", exc)
        await asyncio.sleep(runtime.settings.scheduler_interval_seconds)
