"""Fixtures for the identity tests: settings, a running app, an API helper, an event tap."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.settings import ServiceSettings
from helpdesk_testing import app_client, event_tap
from identity.main import create_app
from identity.settings import IdentitySettings

ADMIN_PASSWORD = "Admin-Pass-123"


@pytest.fixture(scope="session")
def identity_settings(make_settings, keypair) -> Callable[..., IdentitySettings]:
    """IdentitySettings on the test database; cheap argon2 so that tests stay fast."""

    def build(schema: str, **overrides: Any) -> IdentitySettings:
        values: dict[str, Any] = {
            "jwt_private_key": keypair[0],
            "bootstrap_admin_password": ADMIN_PASSWORD,
            "argon2_time_cost": 1,
            "argon2_memory_cost_kib": 1024,
            "argon2_parallelism": 1,
        }
        values.update(overrides)
        return make_settings(IdentitySettings, schema=schema, **values)

    return build


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unique_ip() -> str:
    """A fresh client address (sent as X-Forwarded-For) so per-IP limits never interfere."""
    value = uuid.uuid4().int
    return f"203.{value % 256}.{(value >> 8) % 256}.{(value >> 16) % 256}"


class Api:
    """A thin client for the identity API with helpers for the common steps."""

    bearer = staticmethod(bearer)
    unique_ip = staticmethod(unique_ip)
    admin_password = ADMIN_PASSWORD

    def __init__(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        self.client = client
        self.app = app
        self.settings: IdentitySettings = app.state.runtime.settings
        self._admin_token: str | None = None

    async def login(self, username: str, password: str, *, ip: str | None = None) -> httpx.Response:
        headers = {"X-Forwarded-For": ip} if ip else {}
        return await self.client.post(
            "/auth/login", json={"username": username, "password": password}, headers=headers
        )

    async def token_for(self, username: str, password: str) -> str:
        response = await self.login(username, password, ip=unique_ip())
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    async def admin_headers(self) -> dict[str, str]:
        if self._admin_token is None:
            self._admin_token = await self.token_for("admin", ADMIN_PASSWORD)
        return bearer(self._admin_token)

    async def create_unit(self, **fields: Any) -> dict[str, Any]:
        body = {"code": f"U{uuid.uuid4().hex[:8]}", "name": "Dinas Pendidikan", **fields}
        response = await self.client.post("/units", json=body, headers=await self.admin_headers())
        assert response.status_code == 201, response.text
        return response.json()

    async def create_user(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "username": f"user{uuid.uuid4().hex[:8]}",
            "full_name": "Budi Santoso",
            "email": f"{uuid.uuid4().hex[:8]}@bukittinggikota.go.id",
            "role": "agent",
            "password": "Rahasia-123",
            **fields,
        }
        response = await self.client.post("/users", json=body, headers=await self.admin_headers())
        assert response.status_code == 201, response.text
        return response.json()


@contextlib.asynccontextmanager
async def running(settings: IdentitySettings) -> AsyncIterator[Api]:
    app = create_app(settings)
    async with app_client(app) as client:
        await app.state.runtime.bus.wait_connected()
        yield Api(client, app)


@contextlib.asynccontextmanager
async def tap(settings: ServiceSettings, amqp_url: str) -> AsyncIterator[list[EventEnvelope]]:
    """Every event that reaches the exchange (see helpdesk_testing.event_tap)."""
    async with event_tap(settings.model_copy(update={"amqp_url": amqp_url})) as seen:
        yield seen


@pytest.fixture(scope="session")
def start_identity(identity_settings) -> Callable[..., contextlib.AbstractAsyncContextManager[Api]]:
    """``async with start_identity("identity_x", **overrides) as api``: a running service."""
    return lambda schema, **overrides: running(identity_settings(schema, **overrides))


@pytest.fixture
async def events(make_settings, amqp_url) -> AsyncIterator[list[EventEnvelope]]:
    """Every event published to this test run's exchange while the test runs."""
    async with tap(make_settings(ServiceSettings), amqp_url) as seen:
        yield seen
