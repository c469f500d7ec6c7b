"""Fixtures of the integrations tests: the app on the real PostgreSQL and RabbitMQ, with
people and units put straight into its directory replica (as identity's events would)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from helpdesk_common.contracts.identity import Role, UnitCreated, UserCreated
from helpdesk_common.directory.service import upsert_unit, upsert_user
from helpdesk_testing import app_client, eventually
from helpdesk_testing.net import free_port, serve_http
from integrations.main import create_app
from integrations.runtime import IntegrationsRuntime
from integrations.settings import IntegrationsSettings
from tickets.main import create_app as create_tickets_app
from tickets.settings import TicketsSettings

INTERNAL_TOKEN = "internal-test-token-0123456789"


async def directory_unit(sessionmaker: Any, *, name: str | None = None) -> uuid.UUID:
    """A unit put straight into a service's directory replica, as identity's event would."""
    unit_id = uuid.uuid4()
    snapshot = UnitCreated(
        unit_id=unit_id,
        code=f"U{unit_id.hex[:6].upper()}",
        name=name or f"Dinas {unit_id.hex[:4]}",
        is_active=True,
        revision=1,
        updated_at=datetime.now(UTC),
    )
    async with sessionmaker() as session, session.begin():
        await upsert_unit(session, snapshot=snapshot)
    return unit_id


async def directory_user(
    sessionmaker: Any,
    *,
    role: Role,
    unit_id: uuid.UUID | None,
    name: str,
    email: str | None = None,
    active: bool = True,
) -> tuple[uuid.UUID, str]:
    """A user put straight into a service's directory replica: (id, e-mail address)."""
    user_id = uuid.uuid4()
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
    async with sessionmaker() as session, session.begin():
        await upsert_user(session, snapshot=snapshot)
    return user_id, email


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
        return await directory_unit(self.runtime.sessionmaker, name=name)

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
        name = name or f"{role.title()} {uuid.uuid4().hex[:4]}"
        user_id, email = await directory_user(
            self.runtime.sessionmaker,
            role=role,
            unit_id=unit_id,
            name=name,
            email=email,
            active=active,
        )
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


# A real tickets service on loopback, for the intake's end-to-end tests (mail, the client).
@dataclass
class TicketsService:
    app: FastAPI
    url: str
    make_token: Callable[..., str]
    category_id: uuid.UUID
    # The one agent who works the tests' tickets (a held ticket is its holder's).
    agent_id: uuid.UUID = field(default_factory=uuid.uuid4)

    async def unit(self) -> uuid.UUID:
        return await directory_unit(self.app.state.runtime.sessionmaker)

    async def user(self, role: Role, *, unit_id: uuid.UUID | None, name: str) -> uuid.UUID:
        user_id, _ = await directory_user(
            self.app.state.runtime.sessionmaker, role=role, unit_id=unit_id, name=name
        )
        return user_id

    async def ticket(self, ticket_id: uuid.UUID) -> dict[str, Any]:
        async with self.app.state.runtime.sessionmaker() as session:
            row = (
                await session.execute(
                    sa.text(
                        "SELECT number, status, unit_id, requester_id, created_by_id,"
                        " created_by_name, created_by_role, channel, contact_email, reopen_count,"
                        " title, description FROM tickets WHERE id = :id"
                    ),
                    {"id": ticket_id},
                )
            ).one()
        return dict(row._mapping)

    async def comments(self, ticket_id: uuid.UUID) -> list[str]:
        async with self.app.state.runtime.sessionmaker() as session:
            rows = await session.execute(
                sa.text("SELECT body FROM comments WHERE ticket_id = :id ORDER BY created_at"),
                {"id": ticket_id},
            )
            return [r[0] for r in rows]

    async def count_titled(self, title: str) -> int:
        async with self.app.state.runtime.sessionmaker() as session:
            found = await session.execute(
                sa.text("SELECT count(*) FROM tickets WHERE title = :t"), {"t": title}
            )
            return int(found.scalar_one())

    async def act(self, ticket_id: uuid.UUID, action: str, **body: Any) -> None:
        """An agent's action through the tickets service's own API."""
        token = self.make_token("agent", user_id=self.agent_id, name="Bayu")
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.post(
                f"/tickets/{ticket_id}/{action}",
                json=body or None,
                headers={"Authorization": f"Bearer {token}"},
            )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
async def tickets(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[TicketsService]:
    settings = make_settings(
        TicketsSettings,
        schema=f"tickets_intake_{uuid.uuid4().hex[:6]}",
        queue_prefix=f"tickets.{uuid.uuid4().hex[:6]}.",
        internal_token=INTERNAL_TOKEN,
        run_scheduler=False,
    )
    app = create_tickets_app(settings)
    async with serve_http(app) as url:
        async with app.state.runtime.sessionmaker() as session:
            category_id = (
                await session.execute(sa.text("SELECT id FROM categories WHERE name = 'Aplikasi'"))
            ).scalar_one()
        yield TicketsService(app=app, url=url, make_token=make_token, category_id=category_id)
