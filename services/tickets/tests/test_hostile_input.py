"""Hostile input is a 422 naming the field, never a 500 (issue 13): NUL characters and lone
surrogates in any text, dates that overflow in the office's zone, integers past their
column, cursors carrying either; and every input of the OpenAPI document declares it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from helpdesk_common.inputs import INT4_MAX, NUL_MESSAGE, UNICODE_MESSAGE
from helpdesk_common.pagination import encode_cursor
from helpdesk_testing.inputs import refused, unguarded_inputs
from tickets.masterdata.models import Holiday

JSON = {"Content-Type": "application/json"}
# json.dumps spells a lone surrogate as the escape \ud800, which JSON allows.
SURROGATE = "a\ud800b"


async def send(world, method: str, path: str, body: Any, who) -> httpx.Response:
    """``body`` as JSON with non-ASCII escaped: httpx's own encoder cannot write a lone
    surrogate, JSON's escape can (as a hostile client does)."""
    return await world.client.request(
        method, path, content=json.dumps(body), headers={**who.headers, **JSON}
    )


def test_every_input_of_the_openapi_document_is_guarded(world) -> None:
    assert unguarded_inputs(world.app.openapi()) == []


async def test_nul_and_lone_surrogates_in_tickets_and_comments(world) -> None:
    requester = await world.person("requester", unit_id=await world.unit())
    base = {
        "title": "Printer rusak",
        "description": "Tidak bisa mencetak",
        "category_id": await world.category_id(),
    }
    for field in ("title", "description", "contact_name"):
        for bad, message in (("a\x00bcd", NUL_MESSAGE), (SURROGATE + "cd", UNICODE_MESSAGE)):
            response = await send(world, "POST", "/tickets", {**base, field: bad}, requester)
            refused(response, field, message)
    response = await world.client.post(
        "/tickets", json={**base, "contact_email": "a\x00@b.go.id"}, headers=requester.headers
    )
    refused(response, "contact_email")

    ticket = await world.create(requester)
    for body in ({"body": "ok\x00"}, {"body": SURROGATE}):
        response = await send(world, "POST", f"/tickets/{ticket['id']}/comments", body, requester)
        refused(response, "body")
    response = await world.client.patch(
        f"/tickets/{ticket['id']}", json={"title": "x\x00yz"}, headers=requester.headers
    )
    refused(response, "title")
    # Nothing was stored by the refusals.
    comments = await world.client.get(
        f"/tickets/{ticket['id']}/comments", headers=requester.headers
    )
    assert comments.status_code == 200 and comments.json() == []


async def test_nul_in_search_filters_and_paths(world) -> None:
    agent = await world.person("agent", unit_id=await world.unit())
    for path in (
        "/tickets?q=a%00b",
        "/tickets/count?q=a%00b",
        "/tickets/export.csv?q=a%00b",
        "/tickets?priority=%00",
        "/tickets?assignee=me%00",
        "/tickets?sort=-created_at%00",
    ):
        response = await world.client.get(path, headers=agent.headers)
        refused(response, path.split("?")[1].split("=")[0], NUL_MESSAGE)
    response = await world.client.get("/tickets/TKT-2026%00-000001", headers=agent.headers)
    refused(response, "path")


async def test_dates_that_overflow_in_the_office_zone_are_refused(world) -> None:
    agent = await world.person("agent", unit_id=await world.unit())
    for name, value in (
        ("created_from", "0001-01-01"),
        ("created_to", "9999-12-31"),
        ("created_to", "9999-12-31T23:59:59-12:00"),
        ("created_from", "0001-01-01T00:00:00+14:00"),
    ):
        for path in ("/tickets", "/tickets/count", "/tickets/export.csv"):
            response = await world.client.get(path, params={name: value}, headers=agent.headers)
            refused(response, name)
    response = await world.client.get(
        "/tickets",
        params={"created_from": "1900-01-01", "created_to": "2200-12-31T23:59:59-12:00"},
        headers=agent.headers,
    )
    assert response.status_code == 200, response.text


async def test_integers_past_their_column(world) -> None:
    requester = await world.person("requester", unit_id=await world.unit())
    ticket = await world.create(requester)
    response = await world.client.patch(
        f"/tickets/{ticket['id']}",
        json={"title": "Judul baru", "version": INT4_MAX + 1},
        headers=requester.headers,
    )
    refused(response, "version")
    # An If-Match no version can have: it names no version of this ticket (412), not a 500.
    response = await world.client.patch(
        f"/tickets/{ticket['id']}",
        json={"title": "Judul baru"},
        headers={**requester.headers, "If-Match": f'"{2**63}"'},
    )
    assert response.status_code == 412, response.text
    for path in ("/tickets", "/exports/log"):
        admin = await world.person("admin")
        response = await world.client.get(path, params={"limit": 2**64}, headers=admin.headers)
        refused(response, "limit")


async def test_cursors_carrying_what_the_database_cannot_take(world) -> None:
    admin = await world.person("admin")
    for path, cursor in (
        ("/audit-log", encode_cursor("masterdata-audit", 2**40)),
        ("/tickets?sort=priority", encode_cursor("priority", 2**40, str(uuid.uuid4()))),
        ("/tickets", encode_cursor("created_at", "0001-01-01T00:00:00+14:00", str(uuid.uuid4()))),
        ("/tickets?sort=number", encode_cursor("number", "TKT\x00", str(uuid.uuid4()))),
    ):
        response = await world.client.get(path, params={"cursor": cursor}, headers=admin.headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_cursor"
    for name, value in (("since", "0001-01-01T00:00:00Z"), ("until", "9999-12-31T23:59:59-12:00")):
        response = await world.client.get("/audit-log", params={name: value}, headers=admin.headers)
        refused(response, name)


async def test_master_data_and_saved_views(world) -> None:
    admin = await world.person("admin")
    agent = await world.person("agent", unit_id=await world.unit())
    writes: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/categories", {"name": "Jar\x00ingan"}, "name"),
        ("POST", "/categories", {"name": "Jaringan", "description": SURROGATE}, "description"),
        ("POST", "/priorities", {"code": "p_nul", "name": "Ur\x00gent", "rank": 5}, "name"),
        ("POST", "/holidays", {"date": "2095-01-02", "name": "Li\x00bur"}, "name"),
        ("POST", "/priority-rules", {"keyword": "serv\x00er", "priority": "high"}, "keyword"),
        ("POST", "/views", {"name": "Antrian\x00"}, "name"),
        ("POST", "/views", {"name": "Antrian", "params": {"q": "a\x00"}}, "params.q"),
        (
            "POST",
            "/views",
            {"name": "Antrian", "params": {"status": ["new\x00"]}},
            "params.status.0",
        ),
        ("POST", "/views", {"name": "Antrian", "params": {"q": SURROGATE}}, "params.q"),
    ]
    for method, path, body, field in writes:
        who = agent if path == "/views" else admin
        response = await send(world, method, path, body, who)
        refused(response, field)
    response = await world.client.post(
        "/views", json={"name": "Antrian", "params": {"q\x00": "a"}}, headers=agent.headers
    )
    assert response.status_code == 422, response.text
    created = await world.client.post("/views", json={"name": "Antrian"}, headers=agent.headers)
    assert created.status_code == 201, created.text
    response = await world.client.patch(
        f"/views/{created.json()['id']}", json={"position": 2**31}, headers=agent.headers
    )
    refused(response, "position")


async def test_holidays_out_of_range_are_refused_and_old_ones_still_list(world) -> None:
    admin = await world.person("admin")
    for day in ("0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01"):
        response = await world.client.post(
            "/holidays", json={"date": day, "name": "Libur lama"}, headers=admin.headers
        )
        refused(response, "date")
    # A row stored before the check (year 1) does not break the list or the calendar.
    async with world.app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            sa.insert(Holiday).values(id=uuid.uuid4(), day=sa.func.date("0001-01-01"), name="Tua")
        )
    try:
        listed = await world.client.get("/holidays", headers=admin.headers)
        assert listed.status_code == 200, listed.text
        assert "0001-01-01" in [h["date"] for h in listed.json()]
        for year in (1900, 2200):
            response = await world.client.get(
                "/holidays", params={"year": year}, headers=admin.headers
            )
            assert response.status_code == 200, response.text
        refused(await world.client.get("/holidays?year=1", headers=admin.headers), "year")
        requester = await world.person("requester", unit_id=await world.unit())
        await world.create(requester)
    finally:
        async with world.app.state.runtime.sessionmaker() as session, session.begin():
            await session.execute(sa.delete(Holiday).where(Holiday.name == "Tua"))
