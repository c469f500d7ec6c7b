"""Rebuilding the read model from the tickets service while tickets keep changing.

Two reports services watch one tickets service: ``live`` from the very start (it sees every
event), ``late`` deployed after tickets already exist (its queue never saw their events),
so only its first-start rebuild, paging through the tickets service's internal API while
the load goes on, can bring them in. Both must end with the same facts and the same
rollups; then an administrator's rebuild of ``late``, again under load, must change nothing
and purge the generation it replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from helpdesk_common.contracts.identity import UnitCreated
from helpdesk_common.directory import upsert_unit
from helpdesk_testing import app_client, eventually, serve_http
from reports.main import create_app as create_reports
from reports.readmodel.projection import FACT_COLUMNS, MEASURES
from reports.readmodel.rollups import ROLLUPS
from reports.settings import ReportsSettings
from tickets.main import create_app as create_tickets
from tickets.settings import TicketsSettings

INTERNAL_TOKEN = "internal-token-for-the-rebuild-test"


class Load:
    """Creates tickets and moves them through their lifecycle until stopped."""

    def __init__(
        self, client: httpx.AsyncClient, agent: dict[str, str], unit: uuid.UUID, category: str
    ) -> None:
        self.client, self.agent, self.unit, self.category = client, agent, unit, category
        self.tickets: list[str] = []
        self.rng = random.Random(7)

    async def step(self) -> None:
        if not self.tickets or self.rng.random() < 0.4:
            response = await self.client.post(
                "/tickets",
                json={
                    "title": "Jaringan putus",
                    "description": "Tidak ada koneksi di lantai dua.",
                    "category_id": self.category,
                    "unit_id": str(self.unit),
                    "priority": self.rng.choice(["low", "normal", "high"]),
                    "channel": self.rng.choice(["web", "email", "phone"]),
                },
                headers=self.agent,
            )
            assert response.status_code == 201, response.text
            self.tickets.append(response.json()["id"])
            return
        ticket = self.rng.choice(self.tickets)
        action, body = self.rng.choice(
            [
                ("claim", None),
                ("resolve", {"result_summary": "Sudah normal"}),
                ("reopen", {"reason": "Putus lagi"}),
                ("reject", {"reason": "Duplikat"}),
            ]
        )
        # Not every action is allowed in every status (409): that is part of the load.
        await self.client.post(f"/tickets/{ticket}/{action}", json=body, headers=self.agent)

    async def run(self, steps: int | None = None) -> None:
        done = 0
        while steps is None or done < steps:
            await self.step()
            done += 1


@contextlib.asynccontextmanager
async def loaded(load: Load) -> AsyncIterator[None]:
    task = asyncio.create_task(load.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def read_model(app: FastAPI) -> tuple[int, set[tuple[Any, ...]], dict[str, set[Any]]]:
    """The active generation's facts and non-zero rollup rows, generation left out."""
    async with app.state.runtime.sessionmaker() as session:
        generation = await session.scalar(sa.text("SELECT active FROM read_model_state"))
        facts = await session.execute(
            sa.text(f"SELECT {', '.join(FACT_COLUMNS)} FROM ticket_facts WHERE generation = :g"),
            {"g": generation},
        )
        rollups = {}
        for rollup in ROLLUPS:
            columns = [rollup.grain, *rollup.dimensions, *MEASURES]
            rows = await session.execute(
                sa.text(
                    f"SELECT {', '.join(columns)} FROM {rollup.table} WHERE generation = :g"
                    f" AND ({' OR '.join(f'{m} <> 0' for m in MEASURES)})"
                ),
                {"g": generation},
            )
            rollups[rollup.table] = {tuple(row) for row in rows}
        return int(generation or 0), {tuple(row) for row in facts}, rollups


async def rebuild_state(app: FastAPI) -> dict[str, Any]:
    async with app.state.runtime.sessionmaker() as session:
        row = (await session.execute(sa.text("SELECT * FROM read_model_state"))).mappings().one()
        return dict(row)


async def same_model(live: FastAPI, late: FastAPI) -> bool:
    _, live_facts, live_rollups = await read_model(live)
    _, late_facts, late_rollups = await read_model(late)
    return bool(live_facts) and live_facts == late_facts and live_rollups == late_rollups


@pytest.fixture
async def tickets_service(
    make_settings: Callable[..., Any],
) -> AsyncIterator[tuple[FastAPI, str, httpx.AsyncClient]]:
    settings = make_settings(
        TicketsSettings,
        schema=f"tickets_rebuild_{uuid.uuid4().hex[:6]}",
        # Queues of their own: the session's other tests announce tickets on this exchange.
        queue_prefix=f"rebuild.{uuid.uuid4().hex[:6]}.",
        internal_token=INTERNAL_TOKEN,
        run_scheduler=False,
    )
    app = create_tickets(settings)
    async with serve_http(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield app, url, client


async def test_a_late_deployment_and_a_rebuild_under_load_equal_the_live_model(
    tickets_service: tuple[FastAPI, str, httpx.AsyncClient],
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
) -> None:
    tickets_app, tickets_url, client = tickets_service
    tickets_settings: TicketsSettings = tickets_app.state.runtime.settings
    unit = uuid.uuid4()
    async with tickets_app.state.runtime.sessionmaker() as session, session.begin():
        await upsert_unit(
            session,
            snapshot=UnitCreated(
                unit_id=unit,
                code="RB",
                name="Dinas Rebuild",
                is_active=True,
                revision=1,
                updated_at=datetime.now(UTC),
            ),
        )
    agent = {"Authorization": f"Bearer {make_token('agent', name='Agen Beban')}"}
    admin = {"Authorization": f"Bearer {make_token('admin', name='Admin')}"}
    categories = await client.get("/categories", headers=agent)
    category = categories.json()[0]["id"]
    load = Load(client, agent, unit, category)

    def reports_settings(**overrides: Any) -> ReportsSettings:
        return make_settings(
            ReportsSettings,
            schema=f"reports_rebuild_{uuid.uuid4().hex[:6]}",
            tickets_url=tickets_url,
            internal_token=INTERNAL_TOKEN,
            rebuild_page_size=7,
            rebuild_poll_seconds=0.2,
            **overrides,
        )

    live_app = create_reports(
        reports_settings(queue_prefix=tickets_settings.queue_prefix, rebuild_on_first_start=False)
    )
    async with app_client(live_app) as live:
        await eventually(lambda: live_app.state.runtime.consumers_started, timeout=20)
        await load.run(steps=80)

        late_app = create_reports(reports_settings(queue_prefix=f"late.{uuid.uuid4().hex[:6]}."))
        async with app_client(late_app) as late:
            async with loaded(load):

                async def first_build_done() -> bool:
                    state = await rebuild_state(late_app)
                    return state["built_at"] is not None and state["building"] is None

                await eventually(first_build_done, timeout=60)
            first = await rebuild_state(late_app)
            assert first["build_requested_by"] == "first start"
            async with late_app.state.runtime.sessionmaker() as session:
                paged = await session.scalar(sa.text("SELECT tickets FROM rebuild_progress"))
            assert paged is not None and paged >= 80 // 3

            async def every_ticket_in_both() -> bool:
                # The load may have been stopped after a create was sent and before its
                # answer: that ticket is committed, and both models must hear of it too
                # (they can agree with each other before its event has reached them).
                async with tickets_app.state.runtime.sessionmaker() as session:
                    created = await session.scalar(sa.text("SELECT count(*) FROM tickets"))
                _, facts, _ = await read_model(late_app)
                return len(facts) == created and await same_model(live_app, late_app)

            await eventually(every_ticket_in_both, timeout=30)
            generation, _, _ = await read_model(late_app)
            assert generation == 2

            # An administrator's rebuild, under load again.
            async with loaded(load):
                response = await late.post("/rebuild", headers=admin)
                assert response.status_code == 202, response.text
                assert response.json()["building_generation"] == 3
                again = await late.post("/rebuild", headers=admin)
                assert again.status_code == 409
                refused = await late.post("/rebuild", headers=agent)
                assert refused.status_code == 403

                async def second_build_done() -> bool:
                    state = await rebuild_state(late_app)
                    return state["active"] == 3 and state["building"] is None

                await eventually(second_build_done, timeout=60)
            await eventually(lambda: same_model(live_app, late_app), timeout=30)

            async def purged() -> bool:
                state = await rebuild_state(late_app)
                async with late_app.state.runtime.sessionmaker() as session:
                    left = await session.scalar(
                        sa.text("SELECT count(*) FROM ticket_facts WHERE generation <> 3")
                    )
                return state["purging"] is None and left == 0

            await eventually(purged, timeout=30)

            async def same_figures() -> bool:
                # (a create cancelled with the load may still be committed and announced)
                for path in ("/summary", "/breakdown?by=agent", "/trend?group_by=week"):
                    if await _figures(live, path, admin) != await _figures(late, path, admin):
                        return False
                return await same_model(live_app, late_app)

            await eventually(same_figures, timeout=30)


async def _figures(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    separator = "&" if "?" in path else "?"
    response = await client.get(f"{path}{separator}from=2026-01-01&to=2027-12-31", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    body.pop("source", None)
    return body
