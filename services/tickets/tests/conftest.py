"""Fixtures of the tickets tests: one app (and schema) per test module, unique data per test."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.identity import Role, UnitCreated, UserCreated
from helpdesk_common.directory import upsert_unit, upsert_user
from helpdesk_common.outbox import record_backlog
from helpdesk_common.settings import ServiceSettings
from helpdesk_testing import app_client, event_tap, eventually
from tickets.main import create_app
from tickets.settings import TicketsSettings


@dataclass
class Person:
    user_id: uuid.UUID
    role: str
    unit_id: uuid.UUID | None
    name: str
    headers: dict[str, str]


class World:
    """Talks to one running app and makes the units, people and tickets a test needs."""

    def __init__(
        self, app: FastAPI, client: httpx.AsyncClient, make_token: Callable[..., str]
    ) -> None:
        self.app = app
        self.client = client
        self.make_token = make_token
        self._category_id: str | None = None

    @property
    def settings(self) -> TicketsSettings:
        return self.app.state.runtime.settings

    async def unit(self, name: str | None = None, *, active: bool = True) -> uuid.UUID:
        unit_id = uuid.uuid4()
        name = name or f"Dinas {unit_id.hex[:6]}"
        async with self.app.state.runtime.sessionmaker() as session, session.begin():
            await upsert_unit(
                session,
                snapshot=UnitCreated(
                    unit_id=unit_id,
                    code=unit_id.hex[:6].upper(),
                    name=name,
                    is_active=active,
                    revision=1,
                    updated_at=datetime.now(UTC),
                ),
            )
        return unit_id

    async def person(
        self,
        role: Role,
        *,
        unit_id: uuid.UUID | None = None,
        name: str | None = None,
        known: bool = True,
    ) -> Person:
        """A user with a token; ``known`` also stores them in the local directory."""
        user_id = uuid.uuid4()
        name = name or f"{role.title()} {user_id.hex[:4]}"
        if known:
            async with self.app.state.runtime.sessionmaker() as session, session.begin():
                await upsert_user(
                    session,
                    snapshot=UserCreated(
                        user_id=user_id,
                        username=f"{role}-{user_id.hex[:8]}",
                        full_name=name,
                        email=f"{user_id.hex[:8]}@example.go.id",
                        role=role,
                        unit_id=unit_id,
                        is_active=True,
                        revision=1,
                        updated_at=datetime.now(UTC),
                    ),
                )
        token = self.make_token(role, user_id=user_id, unit_id=unit_id, name=name)
        return Person(user_id, role, unit_id, name, {"Authorization": f"Bearer {token}"})

    async def category_id(self) -> str:
        if self._category_id is None:
            response = await self.client.get(
                "/categories", headers=(await self.person("agent", known=False)).headers
            )
            assert response.status_code == 200, response.text
            self._category_id = next(c["id"] for c in response.json() if c["name"] == "Aplikasi")
        return self._category_id

    async def create(self, who: Person, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": "Printer tidak bisa mencetak",
            "description": "Printer di ruang rapat menampilkan pesan error.",
            "category_id": await self.category_id(),
        }
        if who.role != "requester" and "unit_id" not in fields:
            body["unit_id"] = str(who.unit_id or await self.unit())
        body.update(fields)
        response = await self.client.post("/tickets", json=body, headers=who.headers)
        assert response.status_code == 201, response.text
        return response.json()

    async def act(
        self, who: Person, ticket: dict[str, Any], action: str, **body: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"/tickets/{ticket['id']}/{action}", json=body or None, headers=who.headers
        )


def module_schema(request: pytest.FixtureRequest) -> str:
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    return f"tickets_{name[:20]}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
async def world(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
) -> AsyncIterator[World]:
    # A test module may set more (or other) settings in its WORLD_SETTINGS. The first page's
    # count gets time enough to finish on a loaded CI machine (its budget is tested
    # in test_list_count_budget.py), so tests can expect exact totals.
    settings = make_settings(
        TicketsSettings,
        schema=module_schema(request),
        **{
            "run_scheduler": False,
            "first_page_budget_ms": 10_000,
            **getattr(request.module, "WORLD_SETTINGS", {}),
        },
    )
    app = create_app(settings)
    async with app_client(app) as client:
        await app.state.runtime.bus.wait_connected()
        yield World(app, client, make_token)
        await quiesce(app)


async def quiesce(app: FastAPI) -> None:
    """Let the outbox relay go idle before the app stops.

    On Python 3.11 ``asyncio.wait_for`` swallows a cancellation that arrives together with
    the event it waits for, so a relay woken by a commit at the very moment of shutdown
    would keep running; stopping an idle relay is clean.
    """

    async def drained() -> bool:
        return await record_backlog(app.state.runtime.sessionmaker) == 0

    await eventually(drained, timeout=15)
    await asyncio.sleep(0.3)


@contextlib.asynccontextmanager
async def tap(settings: ServiceSettings, amqp_url: str) -> AsyncIterator[list[EventEnvelope]]:
    """Every event that reaches the exchange (see helpdesk_testing.event_tap)."""
    async with event_tap(settings.model_copy(update={"amqp_url": amqp_url})) as seen:
        yield seen


def events_of(seen: list[EventEnvelope], ticket_id: str) -> list[EventEnvelope]:
    return [e for e in seen if e.payload.get("ticket", {}).get("ticket_id") == ticket_id]
