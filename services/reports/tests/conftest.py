"""Fixtures of the reports tests: a reports app per module on the real PostgreSQL and
RabbitMQ, events published to the real exchange, tickets made up per test."""

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

from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.identity import UnitCreated, UserCreated
from helpdesk_common.contracts.tickets import Actor, TicketCreated, TicketSnapshot
from helpdesk_common.directory import upsert_unit, upsert_user
from helpdesk_testing import app_client, eventually
from reports.main import create_app
from reports.settings import ReportsSettings

SYSTEM = Actor(user_id=None, name="Sistem", role="system")


def snapshot(**values: Any) -> TicketSnapshot:
    """A ticket as events show it; ``values`` override the defaults."""
    ticket_id = values.pop("ticket_id", uuid.uuid4())
    base: dict[str, Any] = {
        "ticket_id": ticket_id,
        "number": f"TKT-{ticket_id.hex[:6]}",
        "title": "Printer rusak",
        "status": "new",
        "priority": "medium",
        "unit_id": uuid.uuid4(),
        "created_at": datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
        "version": 1,
        "channel": "web",
    }
    base.update(values)
    return TicketSnapshot(**base)


@dataclass
class Reports:
    """One running reports app and its HTTP client; events go out on the app's own bus."""

    app: FastAPI
    client: httpx.AsyncClient
    make_token: Callable[..., str]
    published: list[uuid.UUID] = field(default_factory=list)

    @property
    def settings(self) -> ReportsSettings:
        return self.app.state.runtime.settings

    async def publish(
        self, payload: EventPayload, *, event_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        envelope = EventEnvelope.wrap(payload, producer="tickets")
        if event_id is not None:
            envelope.event_id = event_id
        await self.app.state.runtime.bus.publish(
            str(envelope.event_id), envelope.event_type, envelope.model_dump_json()
        )
        self.published.append(envelope.event_id)
        return envelope.event_id

    async def ticket(
        self, ticket: TicketSnapshot, event: type[TicketCreated] = TicketCreated
    ) -> None:
        await self.publish(event(ticket=ticket, actor=SYSTEM))

    async def processed(self) -> None:
        """Wait until every event published so far is in the inbox (projected or skipped)."""
        wanted = set(self.published)

        async def all_in() -> bool:
            async with self.app.state.runtime.sessionmaker() as session:
                rows = await session.execute(
                    sa.text(
                        "SELECT event_id FROM inbox WHERE consumer = :c AND event_id = ANY(:ids)"
                    ),
                    {"c": self.settings.queue_name("reports"), "ids": list(wanted)},
                )
                return len(rows.all()) == len(wanted)

        await eventually(all_in, timeout=20)

    async def unit(self, name: str) -> uuid.UUID:
        unit_id = uuid.uuid4()
        async with self.app.state.runtime.sessionmaker() as session, session.begin():
            await upsert_unit(
                session,
                snapshot=UnitCreated(
                    unit_id=unit_id,
                    code=unit_id.hex[:6],
                    name=name,
                    is_active=True,
                    revision=1,
                    updated_at=datetime.now(UTC),
                ),
            )
        return unit_id

    async def agent(self, name: str) -> uuid.UUID:
        user_id = uuid.uuid4()
        async with self.app.state.runtime.sessionmaker() as session, session.begin():
            await upsert_user(
                session,
                snapshot=UserCreated(
                    user_id=user_id,
                    username=name.lower().replace(" ", "."),
                    full_name=name,
                    email=None,
                    role="agent",
                    unit_id=None,
                    is_active=True,
                    revision=1,
                    updated_at=datetime.now(UTC),
                ),
            )
        return user_id

    def headers(self, role: str = "leader", **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.make_token(role, **kwargs)}"}

    async def get(self, path: str, role: str = "leader", **params: Any) -> Any:
        response = await self.client.get(
            path, params={k: str(v) for k, v in params.items()}, headers=self.headers(role)
        )
        assert response.status_code == 200, response.text
        return response.json()


@asynccontextmanager
async def running_reports(
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
    *,
    name: str = "reports",
    **settings: Any,
) -> AsyncIterator[Reports]:
    """A reports app on a schema and queues of its own (the session's other tests announce
    tickets on the same exchange), consuming; ``settings`` override the defaults."""
    app = create_app(
        make_settings(
            ReportsSettings,
            schema=f"{name}_{uuid.uuid4().hex[:8]}",
            queue_prefix=f"{name}.{uuid.uuid4().hex[:6]}.",
            **{"rebuild_on_first_start": False, **settings},
        )
    )
    async with app_client(app) as client:
        await eventually(lambda: app.state.runtime.consumers_started, timeout=20)
        yield Reports(app=app, client=client, make_token=make_token)


@pytest.fixture(scope="module")
async def reports(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[Reports]:
    async with running_reports(
        make_settings, make_token, stream_min_interval=0.2, stream_heartbeat_seconds=1.0
    ) as started:
        yield started
