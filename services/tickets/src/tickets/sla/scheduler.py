"""The SLA scheduler: warnings, breaches, escalations and the auto-close of resolved tickets.

Safe with several replicas: each pass claims a batch of due tickets with
``FOR UPDATE SKIP LOCKED`` (a ticket another replica is handling is skipped, not waited
for), records on the ticket that a threshold fired in the same transaction as its event,
and moves the ticket's ``sla_next_check_at`` on. A threshold therefore fires once per ticket,
however many replicas run and however often they look.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from helpdesk_common.contracts.envelope import EventPayload
from helpdesk_common.contracts.tickets import (
    TicketEscalated,
    TicketSlaBreached,
    TicketSlaWarning,
)
from helpdesk_common.directory import DirectoryUnit
from tickets.masterdata.cache import MasterData
from tickets.metrics import SCHEDULER_ROUND, SLA_EVENTS
from tickets.sla.schedule import first_response_running, next_check, resolution_running
from tickets.tickets.changes import emit, record
from tickets.tickets.env import TicketsEnv
from tickets.tickets.lifecycle import auto_close
from tickets.tickets.models import Ticket
from tickets.tickets.present import SYSTEM_ACTOR, Loaded, snapshot

log = logging.getLogger("tickets.sla")

TARGET_LABELS = {"first_response": "respons pertama", "resolution": "penyelesaian"}


async def _fire_thresholds(
    session: AsyncSession, *, env: TicketsEnv, master: MasterData, loaded: Loaded, now: datetime
) -> list[tuple[str, str]]:
    """Fire what is due; returns the (event, target) pairs that fired."""
    ticket = loaded.ticket
    # None of the snapshot's fields change below (only the *_at stamps and the escalation
    # level, which it does not carry), so one snapshot serves every event of this ticket.
    ticket_snapshot = snapshot(loaded, env=env, master=master)
    fired: list[tuple[str, str]] = []

    async def fire(
        kind: str, target: str, *, after: dict[str, Any], note: str, payload: EventPayload
    ) -> None:
        fired.append((kind, target))
        record(
            session,
            ticket=ticket,
            actor=SYSTEM_ACTOR,
            kind=kind,
            now=now,
            after=after,
            note=note,
            internal=True,
        )
        await emit(session, env=env, payload=payload)

    for target, running in (
        ("first_response", first_response_running(ticket)),
        ("resolution", resolution_running(ticket)),
    ):
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
                await fire(
                    "sla_warning",
                    target,
                    after={"target": target, "due_at": due_at.isoformat()},
                    note=f"Peringatan SLA: target {TARGET_LABELS[target]} hampir terlewati",
                    payload=TicketSlaWarning(
                        ticket=ticket_snapshot,
                        actor=SYSTEM_ACTOR,
                        target=target,  # type: ignore[arg-type]
                        due_at=due_at,
                        threshold=env.settings.sla_warning_ratio,
                    ),
                )
        if due_at <= now and getattr(ticket, f"{target}_breached_at") is None:
            setattr(ticket, f"{target}_breached_at", now)
            await fire(
                "sla_breached",
                target,
                after={"target": target, "due_at": due_at.isoformat()},
                note=f"SLA terlewati: target {TARGET_LABELS[target]}",
                payload=TicketSlaBreached(
                    ticket=ticket_snapshot,
                    actor=SYSTEM_ACTOR,
                    target=target,  # type: ignore[arg-type]
                    due_at=due_at,
                ),
            )
        if (
            escalate_at is not None
            and escalate_at <= now
            and getattr(ticket, f"{target}_escalated_at") is None
        ):
            setattr(ticket, f"{target}_escalated_at", now)
            ticket.escalation_level += 1
            roles = list(env.settings.escalation_roles)
            reason = (
                f"Eskalasi otomatis: target {TARGET_LABELS[target]} terlewati"
                f" (jatuh tempo {due_at.astimezone(master.calendar.timezone):%d-%m-%Y %H:%M})"
            )
            await fire(
                "escalated",
                target,
                after={
                    "target": target,
                    "escalation_level": ticket.escalation_level,
                    "escalated_to_roles": roles,
                },
                note=reason,
                payload=TicketEscalated(
                    ticket=ticket_snapshot,
                    actor=SYSTEM_ACTOR,
                    target=target,  # type: ignore[arg-type]
                    reason=reason,
                    escalated_to_roles=roles,
                ),
            )
    ticket.sla_next_check_at = next_check(ticket)
    return fired


async def _claim_batch(
    session: AsyncSession,
    *,
    env: TicketsEnv,
    where: Sequence[sa.ColumnElement[bool]],
    order_by: sa.ColumnElement[Any] | InstrumentedAttribute[Any],
) -> list[Loaded]:
    """Lock one batch of matching tickets, skipping those another replica holds."""
    rows = (
        await session.execute(
            sa.select(Ticket, DirectoryUnit.name)
            .join(DirectoryUnit, DirectoryUnit.id == Ticket.unit_id)
            .where(*where)
            .order_by(order_by)
            .limit(env.settings.scheduler_batch_size)
            .with_for_update(of=Ticket, skip_locked=True)
        )
    ).all()
    return [Loaded(ticket, unit_name) for ticket, unit_name in rows]


async def run_sla_pass(
    sessionmaker: async_sessionmaker[AsyncSession], *, env: TicketsEnv, now: datetime
) -> int:
    """Fire every threshold due by ``now`` for one batch of tickets; returns the batch size."""
    master = await env.masterdata.get()
    async with sessionmaker() as session, session.begin():
        batch = await _claim_batch(
            session,
            env=env,
            where=[Ticket.sla_next_check_at <= now],
            order_by=Ticket.sla_next_check_at,
        )
        fired: list[tuple[str, str]] = []
        for loaded in batch:
            fired += await _fire_thresholds(session, env=env, master=master, loaded=loaded, now=now)
    for event, target in fired:
        SLA_EVENTS.labels(event, target).inc()
    return len(batch)


async def run_auto_close_pass(
    sessionmaker: async_sessionmaker[AsyncSession], *, env: TicketsEnv, now: datetime
) -> int:
    """Close one batch of resolved tickets older than ``auto_close_days``."""
    master = await env.masterdata.get()
    cutoff = now - timedelta(days=env.settings.auto_close_days)
    async with sessionmaker() as session, session.begin():
        batch = await _claim_batch(
            session,
            env=env,
            where=[Ticket.status == "resolved", Ticket.resolved_at <= cutoff],
            order_by=Ticket.resolved_at,
        )
        for loaded in batch:
            await auto_close(session, env=env, master=master, loaded=loaded, now=now)
    if batch:
        SLA_EVENTS.labels("auto_close", "resolution").inc(len(batch))
    return len(batch)


async def run_scheduler_once(
    sessionmaker: async_sessionmaker[AsyncSession], *, env: TicketsEnv, now: datetime
) -> None:
    """Work through everything due by ``now``, batch by batch."""
    batch = env.settings.scheduler_batch_size
    while await run_sla_pass(sessionmaker, env=env, now=now) >= batch:
        pass
    while await run_auto_close_pass(sessionmaker, env=env, now=now) >= batch:
        pass


async def sla_scheduler(app: FastAPI) -> None:
    """Background worker: one round every ``scheduler_interval_seconds``."""
    env: TicketsEnv = app.state.tickets_env
    sessionmaker = app.state.sessionmaker
    while True:
        try:
            with SCHEDULER_ROUND.time():
                await run_scheduler_once(sessionmaker, env=env, now=datetime.now(UTC))
        except asyncio.CancelledError:
            raise
        except Exception:
            # The database may be briefly away; the next round picks up where this stopped.
            log.exception("SLA scheduler round failed")
        await asyncio.sleep(env.settings.scheduler_interval_seconds)
