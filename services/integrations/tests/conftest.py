"""Fixtures of the integrations tests: the app on the real PostgreSQL and RabbitMQ, with
people and units put straight into its directory replica (as identity's events would)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpdesk_common.contracts.identity import Role, UnitCreated, UserCreated
from helpdesk_common.directory.service import upsert_unit, upsert_user
from helpdesk_testing import app_client, eventually
from helpdesk_testing.net import free_port
from integrations.main import create_app
from integrations.runtime import IntegrationsRuntime
from integrations.settings import IntegrationsSettings

INTERNAL_TOKEN = "internal-test-token-0123456789"


@dataclass
class Person:
    role: str
    user_id: uuid.UUID
    unit_id: uuid.UUID | None
    email: str
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    make_token: Callable[..., str]

    @property
    def runtime(self) -> IntegrationsRuntime:
        return self.app.state.runtime

    @property
    def settings(self) -> IntegrationsSettings:
        return self.runtime.settings

    async def unit(self, name: str = "Dinas Uji") -> uuid.UUID:
        """A unit in the directory replica."""
        unit_id = uuid.uuid4()
        snapshot = UnitCreated(
            unit_id=unit_id,
            code=f"U{unit_id.hex[:6].upper()}",
            name=name,
            is_active=True,
            revision=1,
            updated_at=datetime.now(UTC),
        )
        async with self.runtime.sessionmaker() as session, session.begin():
            await upsert_unit(session, snapshot=snapshot)
        return unit_id

    async def person(
        self,
        role: Role,
        *,
        unit_id: uuid.UUID | None = None,
        email: str | None = None,
        name: str = "",
        active: bool = True,
    ) -> Person:
        """A user in the directory replica, with a token."""
        user_id = uuid.uuid4()
        name = name or f"{role.title()} {user_id.hex[:4]}"
        email = email or f"{role}.{user_id.hex[:8]}@example.go.id"
        snapshot = UserCreated(
            user_id=user_id,
            username=f"{role}{user_id.hex[:8]}",
            full_name=name,
            email=email,
            role=role,
            unit_id=unit_id,
            is_active=active,
            revision=1,
            updated_at=datetime.now(UTC),
        )
        async with self.runtime.sessionmaker() as session, session.begin():
            await upsert_user(session, snapshot=snapshot)
        token = self.make_token(role, user_id=user_id, unit_id=unit_id, name=name)
        return Person(
            role=role, user_id=user_id, unit_id=unit_id, email=email, name=name, token=token
        )


def integrations_settings(make_settings: Callable[..., Any], **overrides: Any) -> Any:
    values: dict[str, Any] = {
        # No tickets or attachments service unless a test starts one and says where.
        "tickets_url": f"http://127.0.0.1:{free_port()}",
        "attachments_url": "",
        "internal_token": INTERNAL_TOKEN,
        "secret_key": "integrations-test-secret",
    }
    values.update(overrides)
    return make_settings(
        IntegrationsSettings,
        schema=f"integrations_{uuid.uuid4().hex[:8]}",
        queue_prefix=f"integrations.{uuid.uuid4().hex[:6]}.",
        **values,
    )


@asynccontextmanager
async def running_integrations(
    make_settings: Callable[..., Any], make_token: Callable[..., str], **overrides: Any
) -> AsyncIterator[World]:
    app = create_app(integrations_settings(make_settings, **overrides))
    async with app_client(app) as client:
        await eventually(lambda: app.state.runtime.consumers_started, timeout=20)
        yield World(app=app, client=client, make_token=make_token)


@pytest.fixture(scope="module")
async def world(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[World]:
    async with running_integrations(make_settings, make_token) as started:
        yield started
