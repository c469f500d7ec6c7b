"""A master-data change reaches every process at its commit (NOTIFY), not after the cache's
TTL: two copies of the app on one schema stand for two uvicorn workers or replicas."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from helpdesk_testing import app_client, eventually
from tickets.main import create_app
from tickets.settings import TicketsSettings

from .conftest import World, module_schema, quiesce


@pytest.fixture(scope="module")
async def two_workers(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
) -> AsyncIterator[tuple[World, World]]:
    # A TTL of an hour: only the NOTIFY can make the second copy see the change in time.
    settings = make_settings(
        TicketsSettings,
        schema=module_schema(request),
        run_scheduler=False,
        masterdata_cache_seconds=3600,
    )
    first, second = create_app(settings), create_app(settings)
    async with contextlib.AsyncExitStack() as stack:
        clients: list[httpx.AsyncClient] = []
        for app in (first, second):
            clients.append(await stack.enter_async_context(app_client(app)))
            await app.state.runtime.bus.wait_connected()
        yield World(first, clients[0], make_token), World(second, clients[1], make_token)
        await quiesce(first)
        await quiesce(second)


async def test_a_category_deactivated_through_one_worker_is_refused_by_the_other(
    two_workers: tuple[World, World],
) -> None:
    one, other = two_workers
    admin = await one.person("admin")
    requester = await other.person("requester", unit_id=await other.unit())
    created = await one.client.post(
        "/categories", json={"name": "Proyektor ruang rapat"}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    category = created.json()["id"]
    # The other copy learns of the new category and caches it (by its own miss reload).
    ticket = await other.create(requester, category_id=category)
    assert ticket["category_id"] == category

    deleted = await one.client.delete(f"/categories/{category}", headers=admin.headers)
    assert deleted.status_code == 204

    async def refused() -> bool:
        response = await other.client.post(
            "/tickets",
            json={
                "title": "Proyektor tidak menyala",
                "description": "Lampu proyektor mati.",
                "category_id": category,
            },
            headers=requester.headers,
        )
        assert response.status_code in (201, 422), response.text
        return response.status_code == 422

    await eventually(refused, timeout=3, interval=0.2)
