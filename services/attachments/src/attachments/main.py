"""The attachments service: ``uvicorn attachments.main:create_app --factory``."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI

from attachments.files.internal import router as internal_router
from attachments.files.sweeper import sweeper
from attachments.files.views import router as files_router
from attachments.runtime import AttachmentsRuntime, release_threads
from attachments.scanning.worker import scan_worker
from attachments.settings import AttachmentsSettings
from attachments.storage.s3 import create_store
from attachments.tickets.consumer import tickets_consumer
from helpdesk_common.app import create_service_app
from helpdesk_common.directory import directory_consumer, directory_standing
from helpdesk_common.runtime import Runtime

log = logging.getLogger("helpdesk.attachments")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: AttachmentsSettings | None = None) -> FastAPI:
    settings = settings or AttachmentsSettings()

    async def build_runtime(base: Runtime) -> AttachmentsRuntime:
        store = create_store(settings)
        # The bucket is made on the first start; a store down now is only a warning: the
        # service starts, and uploads answer 503 until it is back.
        try:
            await store.ensure_bucket()
        except Exception as exc:
            log.warning("object storage not reachable at start: %s", exc)
        checks = ThreadPoolExecutor(settings.check_threads, thread_name_prefix="checks")
        return base.extend(AttachmentsRuntime, settings=settings, store=store, checks=checks)

    return create_service_app(
        settings=settings,
        title="Helpdesk attachments",
        routers=[files_router, internal_router],
        migrations=MIGRATIONS,
        consumers=[
            tickets_consumer(
                batch_size=settings.consumer_batch_size, linger=settings.consumer_linger_seconds
            ),
            directory_consumer("attachments"),
        ],
        build_runtime=build_runtime,
        workers=[scan_worker, sweeper, release_threads],
        user_standing=directory_standing,
    )
