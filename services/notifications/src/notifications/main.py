"""The notifications service: ``uvicorn notifications.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from helpdesk_common.app import create_service_app
from helpdesk_common.db import create_engine, create_sessionmaker
from helpdesk_common.directory import directory_consumer, directory_standing
from helpdesk_common.runtime import Runtime
from notifications.consumer import build_consumer
from notifications.email.digest import run_digest_worker
from notifications.email.rendering import Renderer
from notifications.email.sender import EmailSender
from notifications.email.service import Handoff
from notifications.email.views import router as deliveries_router
from notifications.inapp.views import router as inapp_router
from notifications.preferences.views import router as preferences_router
from notifications.runtime import NotificationsRuntime
from notifications.settings import NotificationsSettings
from notifications.settings_admin.crypto import PasswordCipher
from notifications.settings_admin.service import SmtpConfigStore
from notifications.settings_admin.views import router as smtp_settings_router
from notifications.triage.views import router as triage_router

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    renderer = Renderer(timezone=settings.timezone)
    cipher = PasswordCipher(settings.secret_key)
    # The handlers give new deliveries straight to this app's sender (see email.service).
    handoff = Handoff()

    async def build_runtime(base: Runtime) -> NotificationsRuntime:
        return base.extend(
            NotificationsRuntime,
            settings=settings,
            renderer=renderer,
            cipher=cipher,
            smtp_config=SmtpConfigStore(
                sessionmaker=base.sessionmaker, settings=settings, cipher=cipher
            ),
            handoff=handoff,
        )

    async def email_sender(runtime: NotificationsRuntime) -> None:
        # A pool of its own: the consumer's handlers (up to ``consumer_prefetch`` at once)
        # would otherwise hold every shared connection and the sender would wait behind them.
        engine = create_engine(
            settings.model_copy(
                update={"db_pool_size": settings.email_db_pool_size, "db_max_overflow": 0}
            )
        )
        sender = EmailSender(
            sessionmaker=create_sessionmaker(engine),
            settings=settings,
            smtp_config=runtime.smtp_config,
            handoff=handoff,
        )
        runtime.email_sender = sender
        try:
            await sender.run()
        finally:
            await engine.dispose()

    async def digest_worker(runtime: NotificationsRuntime) -> None:
        # Every replica runs it; a unique key per user and day sends each digest once.
        await run_digest_worker(runtime.sessionmaker, settings=settings, renderer=renderer)

    return create_service_app(
        settings=settings,
        title="Helpdesk notifications",
        # The fixed paths under /notifications come before the in-app list's /{id} routes.
        routers=[
            preferences_router,
            triage_router,
            inapp_router,
            smtp_settings_router,
            deliveries_router,
        ],
        migrations=MIGRATIONS,
        consumers=[
            build_consumer(settings=settings, renderer=renderer, handoff=handoff),
            directory_consumer("notifications"),
        ],
        build_runtime=build_runtime,
        workers=[email_sender, digest_worker],
        user_standing=directory_standing,
    )
