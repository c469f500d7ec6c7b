"""The integrations service: ``uvicorn integrations.main:create_app --factory``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI

from helpdesk_common.app import create_service_app
from helpdesk_common.auth import INTERNAL_TOKEN_HEADER
from helpdesk_common.crypto import SecretCipher
from helpdesk_common.directory import directory_consumer, directory_standing
from helpdesk_common.runtime import Runtime
from integrations.chat.views import router as chat_router
from integrations.mail.poller import mail_poller
from integrations.mail.views import router as mail_router
from integrations.runtime import IntegrationsRuntime
from integrations.settings import IntegrationsSettings
from integrations.webhooks.consumer import webhooks_consumer
from integrations.webhooks.sender import webhook_sender
from integrations.webhooks.views import router as webhooks_router

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def internal_client(settings: IntegrationsSettings) -> httpx.AsyncClient:
    """The client of the tickets and attachments services' internal APIs."""
    return httpx.AsyncClient(
        headers={INTERNAL_TOKEN_HEADER: settings.internal_token},
        timeout=httpx.Timeout(settings.internal_timeout_seconds, connect=5.0),
    )


async def close_clients(runtime: IntegrationsRuntime) -> None:
    """A background worker that only waits: when the app stops it closes the HTTP client."""
    try:
        await asyncio.Event().wait()
    finally:
        await runtime.internal.aclose()


def create_app(settings: IntegrationsSettings | None = None) -> FastAPI:
    settings = settings or IntegrationsSettings()

    async def build_runtime(base: Runtime) -> IntegrationsRuntime:
        return base.extend(
            IntegrationsRuntime,
            settings=settings,
            cipher=SecretCipher(settings.secret_key, purpose="helpdesk-integrations"),
            internal=internal_client(settings),
        )

    return create_service_app(
        settings=settings,
        title="Helpdesk integrations",
        routers=[mail_router, chat_router, webhooks_router],
        migrations=MIGRATIONS,
        consumers=[
            directory_consumer("integrations"),
            webhooks_consumer(settle_seconds=settings.webhook_settle_seconds),
        ],
        build_runtime=build_runtime,
        workers=[mail_poller, webhook_sender, close_clients],
        user_standing=directory_standing,
    )
