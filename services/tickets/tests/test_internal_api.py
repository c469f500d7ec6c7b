"""The service-to-service API: the ticket snapshot backfill, behind the internal token."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from helpdesk_common.outbox import outbox_table
from helpdesk_common.pagination import encode_cursor
from tickets.settings import TicketsSettings
from tickets.tickets.scheduler import run_scheduler_once

INTERNAL_TOKEN = "internal-test-token-0123456789"
WORLD_SETTINGS = {"internal_token": INTERNAL_TOKEN, "web_base_url": "https://helpdesk.example"}
INTERNAL = {"X-Internal-Token": INTERNAL_TOKEN}
PATH = "/internal/ticket-snapshots"


async def latest_event_snapshots(world) -> dict[str, dict[str, Any]]:
    """Per ticket, the snapshot of its latest event, as written to the outbox (and published)."""
    async with world.app.state.runtime.sessionmaker() as session:
        bodies = (
            await session.scalars(sa.select(outbox_table.c.body).order_by(outbox_table.c.position))
        ).all()
    latest: dict[str, dict[str, Any]] = {}
    for body in bodies:
        payload = json.loads(body)["payload"]
        if "ticket" in payload:
            latest[payload["ticket"]["ticket_id"]] = payload["ticket"]
    return latest


async def all_pages(world, *, limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await world.client.get(PATH, params=params, headers=INTERNAL)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor does not move on"


async def test_paging_returns_every_ticket_once_as_its_latest_event_shows_it(world):
    unit = await world.unit("Dinas Perhubungan")
    requester = await world.person("requester", unit_id=unit, name="Rina")
    agent = await world.person("agent", name="Bayu")
    tickets = [await world.create(requester) for _ in range(4)]
    tickets.append(await world.create(agent, unit_id=str(unit), channel="phone"))
    tickets += [await world.create(requester) for _ in range(3)]
    done, reopened, commented, held, by_phone = tickets[:5]

    async def act(who, ticket, action, **body):
        response = await world.act(who, ticket, action, **body)
        assert response.status_code in (200, 201), (action, response.text)

    await act(agent, done, "claim")
    await act(agent, done, "resolve", result_summary="Kabel LAN diganti")
    await act(agent, reopened, "claim")
    await act(agent, reopened, "resolve", result_summary="Driver dipasang")
    await act(requester, reopened, "reopen", reason="Masih gagal")
    await act(requester, commented, "comments", body="Mohon segera")
    await act(agent, held, "claim")
    await act(agent, held, "pending", reason="Menunggu nomor aset")
    await act(agent, by_phone, "accept")
    # A month later: breaches and escalations stamped (events without a new version) and
    # the resolved ticket closed automatically.
    await run_scheduler_once(world.app.state.runtime, now=datetime.now(UTC) + timedelta(days=30))

    latest = await latest_event_snapshots(world)
    pages = await all_pages(world, limit=3)
    items = [item for page in pages for item in page]
    assert all(len(page) == 3 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 3
    ids = [uuid.UUID(item["ticket_id"]) for item in items]
    # Each ticket exactly once, in id order (PostgreSQL's uuid order is Python's).
    assert ids == sorted(set(ids))
    assert {str(i) for i in ids} == set(latest) >= {t["id"] for t in tickets}
    # The same JSON as the latest event carries, field for field (extras included).
    for item in items:
        assert item == latest[item["ticket_id"]], item["number"]

    by_id = {item["ticket_id"]: item for item in items}
    closed = by_id[done["id"]]
    assert closed["status"] == "closed" and closed["result_summary"] == "Kabel LAN diganti"
    assert isinstance(closed["resolution_seconds"], int)
    assert isinstance(closed["first_response_seconds"], int)
    again = by_id[reopened["id"]]
    assert (again["status"], again["reopen_count"], again["resolution_seconds"]) == (
        "in_progress",
        1,
        None,
    )
    assert again["resolution_breached_at"] is not None and again["escalation_level"] >= 1
    waiting = by_id[commented["id"]]
    assert waiting["first_response_breached_at"] is not None
    assert by_id[held["id"]]["resolution_breached_at"] is None  # paused: never due
    assert by_id[by_phone["id"]]["channel"] == "phone"
    assert {item["channel"] for item in items} == {"web", "phone"}
    assert closed["unit_name"] == "Dinas Perhubungan" and closed["category_name"] == "Aplikasi"
    assert closed["url"] == f"https://helpdesk.example/#/tickets/{done['id']}"
    assert closed["priority_name"]

    # One page of everything by default (limit 500), and the largest page allowed.
    for params in ({}, {"limit": 2000}):
        response = await world.client.get(PATH, params=params, headers=INTERNAL)
        assert response.status_code == 200
        assert response.json() == {"items": items, "next_cursor": None}


async def test_the_internal_token_is_required(world, monkeypatch: pytest.MonkeyPatch):
    admin = await world.person("admin")
    for headers in (
        {},
        {"X-Internal-Token": "wrong"},
        {"X-Internal-Token": INTERNAL_TOKEN[:-1]},
        # A user's token, an administrator's even, opens nothing here.
        admin.headers,
    ):
        response = await world.client.get(PATH, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "invalid_internal_token"
    # No token configured: the internal API is switched off, whatever is sent.
    monkeypatch.setattr(world.settings, "internal_token", "")
    for headers in ({}, INTERNAL, {"X-Internal-Token": ""}):
        response = await world.client.get(PATH, headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "internal_api_disabled"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 2001}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": encode_cursor("ticket-snapshots", "not-a-uuid")}, "cursor"),
        ({"cursor": encode_cursor("ticket-snapshots", 5)}, "cursor"),
        ({"cursor": encode_cursor("ticket-snapshots", str(uuid.uuid4()), "extra")}, "cursor"),
        # A cursor of another listing (the tickets list's, sorted by creation).
        ({"cursor": encode_cursor("created_at", datetime.now(UTC), uuid.uuid4())}, "cursor"),
        ({"cursor": "x" * 501}, "cursor"),
    ],
)
async def test_bad_cursors_and_limits_are_422(world, params: dict[str, Any], field: str):
    response = await world.client.get(PATH, params=params, headers=INTERNAL)
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]


async def test_a_cursor_past_the_last_ticket_is_an_empty_last_page(world):
    cursor = encode_cursor("ticket-snapshots", uuid.UUID(int=2**128 - 1))
    response = await world.client.get(PATH, params={"cursor": cursor}, headers=INTERNAL)
    assert response.json() == {"items": [], "next_cursor": None}


async def test_one_ticket_snapshot_is_its_latest_event_and_404_for_none(world):
    unit = await world.unit("Dinas Kominfo")
    requester = await world.person("requester", unit_id=unit, name="Sari")
    ticket = await world.create(requester)
    response = await world.client.get(f"{PATH}/{ticket['id']}", headers=INTERNAL)
    assert response.status_code == 200, response.text
    assert response.json() == (await latest_event_snapshots(world))[ticket["id"]]
    missing = await world.client.get(f"{PATH}/{uuid.uuid4()}", headers=INTERNAL)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ticket_not_found"
    refused = await world.client.get(f"{PATH}/{ticket['id']}")
    assert refused.status_code in (401, 403)


@pytest.mark.parametrize("token", ["", "change-me", "Secret"])
def test_production_refuses_to_start_without_a_real_internal_token(token: str):
    with pytest.raises(ValueError, match="internal_token"):
        TicketsSettings(environment="production", internal_token=token)
    assert TicketsSettings(environment="production", internal_token="x" * 32).internal_token
