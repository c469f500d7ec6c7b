"""The tickets service: ``uvicorn tickets.main:create_app --factory``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from helpdesk_common.app import create_service_app
from helpdesk_common.db import create_engine, create_sessionmaker
from helpdesk_common.directory import directory_consumer, directory_standing
from helpdesk_common.runtime import Runtime
from tickets.attachments.consumer import build_consumer as attachments_consumer
from tickets.directory.views import router as directory_router
from tickets.documents.views import router as documents_router
from tickets.exports.views import router as exports_router
from tickets.intake.views import router as intake_router
from tickets.internal.views import router as internal_router
from tickets.live import feed as live_feed
from tickets.live.views import router as live_router
from tickets.masterdata import changes as masterdata_changes
from tickets.masterdata.cache import MasterDataCache
from tickets.masterdata.views import router as masterdata_router
from tickets.queues.views import router as queues_router
from tickets.runtime import TicketsRuntime
from tickets.settings import TicketsSettings
from tickets.tickets.backlog import report_open_backlog
from tickets.tickets.numbering import TicketNumbers
from tickets.tickets.policy import build_policy
from tickets.tickets.scheduler import sla_scheduler
from tickets.tickets.views import router as tickets_router

MIGRATIONS = Path(__file__).parent / "migrations"


async def live_changes(runtime: TicketsRuntime) -> None:
    """This replica's share of the bus: ticket changes for its open streams."""
    await live_feed.listen(runtime.bus, runtime.settings, runtime.live)


def create_app(settings: TicketsSettings | None = None) -> FastAPI:
    settings = settings or TicketsSettings()
    # Fail at start-up, not on the first request, when the policy overrides are wrong.
    policy = build_policy(
        settings.policy_overrides, held_override_roles=settings.held_ticket_override_roles
    )

    async def build_runtime(base: Runtime) -> TicketsRuntime:
        # Requests wait for the master-data cache (and a new year's number sequence) while
        # they hold a pooled connection and a ticket's lock; if these in turn waited for the
        # pool, a busy service would deadlock once all pooled connections were held so.
        # They are rare, so they open a connection of their own (unpooled).
        side_engine = create_engine(settings, pooled=False)
        numbers = TicketNumbers(
            side_engine,
            prefix=settings.number_prefix,
            timezone=settings.timezone,
            schema=settings.schema_name,
        )
        year = numbers.year_of(datetime.now(UTC))
        await numbers.ensure(year, year + 1)
        masterdata = MasterDataCache(
            create_sessionmaker(side_engine),
            timezone=settings.timezone,
            ttl=settings.masterdata_cache_seconds,
        )
        await masterdata.get()
        live = live_feed.LiveHub(backlog=settings.stream_backlog)
        # A stream ends as soon as its token stops counting (a role or unit change).
        base.user_standings.on_change(live.standing_changed)
        return base.extend(
            TicketsRuntime,
            settings=settings,
            policy=policy,
            masterdata=masterdata,
            numbers=numbers,
            live=live,
        )

    return create_service_app(
        settings=settings,
        title="Helpdesk tickets",
        # The order does not matter for /tickets/export.csv, /count and /bulk: a ticket's
        # path matches a ticket reference only (numbering.TicketRefConvertor). The busiest
        # first: a request is matched against the routes in order (~2 us each).
        routers=[
            tickets_router,
            exports_router,
            queues_router,
            documents_router,
            masterdata_router,
            directory_router,
            internal_router,
            intake_router,
            live_router,
        ],
        migrations=MIGRATIONS,
        consumers=[directory_consumer("tickets"), attachments_consumer()],
        build_runtime=build_runtime,
        workers=[
            live_changes,
            masterdata_changes.follow_changes,
            report_open_backlog,
            *([sla_scheduler] if settings.run_scheduler else []),
        ],
        user_standing=directory_standing,
    )
