"""The open backlog as a metric (tickets_open{status}), for dashboards and alerts."""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa

from helpdesk_common.errors import log_failure
from tickets.metrics import OPEN_TICKETS
from tickets.runtime import TicketsRuntime
from tickets.tickets.models import Ticket
from tickets.tickets.queries import OPEN_STATUSES

log = logging.getLogger("tickets.backlog")


async def count_open_tickets(runtime: TicketsRuntime) -> dict[str, int]:
    """Open tickets per status; a status with none counts 0 (so the series never vanishes)."""
    query = (
        sa.select(Ticket.status, sa.func.count())
        .where(Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.status)
    )
    async with runtime.sessionmaker() as session:
        counted = {status: int(n) for status, n in (await session.execute(query)).all()}
    return {status: counted.get(status, 0) for status in OPEN_STATUSES}


async def report_open_backlog(runtime: TicketsRuntime) -> None:
    """Background worker: refresh the gauge every ``open_backlog_metric_seconds``."""
    while True:
        try:
            for status, count in (await count_open_tickets(runtime)).items():
                OPEN_TICKETS.labels(status).set(count)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log_failure(log, "counting the open backlog failed", exc)
        await asyncio.sleep(runtime.settings.open_backlog_metric_seconds)
