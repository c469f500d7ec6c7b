"""The reports service: ``uvicorn reports.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from helpdesk_common.app import create_service_app
from helpdesk_common.directory import directory_consumer, directory_standing
from helpdesk_common.runtime import Runtime
from reports.exports.views import router as exports_router
from reports.figures.views import router as figures_router
from reports.live.feed import listen
from reports.live.views import router as live_router
from reports.readmodel.consumer import build_consumer
from reports.rebuild.views import router as rebuild_router
from reports.rebuild.worker import rebuild_worker
from reports.runtime import ReportsRuntime
from reports.schedules.views import router as schedules_router
from reports.schedules.worker import schedule_worker
from reports.settings import ReportsSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: ReportsSettings | None = None) -> FastAPI:
    settings = settings or ReportsSettings()

    async def build_runtime(base: Runtime) -> ReportsRuntime:
        return base.extend(ReportsRuntime, settings=settings)

    async def live_changes(runtime: ReportsRuntime) -> None:
        await listen(settings, runtime.changes)

    return create_service_app(
        settings=settings,
        title="Helpdesk reports",
        routers=[figures_router, exports_router, live_router, rebuild_router, schedules_router],
        migrations=MIGRATIONS,
        consumers=[build_consumer(settings), directory_consumer("reports")],
        build_runtime=build_runtime,
        workers=[live_changes, rebuild_worker, schedule_worker],
        user_standing=directory_standing,
    )
