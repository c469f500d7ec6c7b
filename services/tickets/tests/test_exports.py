"""Ticket data export: CSV for spreadsheets with the list's filters and visibility, the
privacy policy for personal data, and the export log."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from helpdesk_testing import eventually
from tickets.exports import service
from tickets.exports.models import ExportLog
from tickets.models import metadata
from tickets.tickets.filters import TicketSelection
from tickets.tickets.queries import SortKey, TicketFilters

INDONESIAN_TITLE = "Jaringan putus di Kecamatan Ngaglik — ruang rapat"
FORMULA_TITLE = '=HYPERLINK("http://contoh.test/x","klik")'


def parse_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def export(world, who, **params: Any):
    return await world.client.get("/tickets/export.csv", params=params, headers=who.headers)


async def listed_numbers(world, who, **params: Any) -> list[str]:
    response = await world.client.get(
        "/tickets", params={**params, "limit": 100}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return [t["number"] for t in response.json()["items"]]


async def test_csv_for_spreadsheets_in_indonesian(world):
    unit = await world.unit("Dinas Komunikasi dan Informatika")
    requester = await world.person("requester", unit_id=unit, name="Siti Rahma")
    agent = await world.person("agent", name="Budi Santoso")
    first = await world.create(requester, title=INDONESIAN_TITLE, channel="phone")
    await world.act(agent, first, "claim")
    formula = await world.create(requester, title=FORMULA_TITLE)

    response = await export(world, agent, unit_id=str(unit))
    day = datetime.now(ZoneInfo("Asia/Jakarta")).date().isoformat()
    assert f'filename="tiket-{day}.csv"' in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"
    header, *rows = parse_csv(response)
    # One header row, the default columns, in Indonesian.
    assert header == [
        "Nomor",
        "Judul",
        "Status",
        "Prioritas",
        "Kategori",
        "Unit kerja (SKPD)",
        "Petugas",
        "Dibuat",
        "Diselesaikan",
    ]
    by_number = {row[0]: row for row in rows}
    assert set(by_number) == {first["number"], formula["number"]}
    row = by_number[first["number"]]
    assert row[1] == INDONESIAN_TITLE
    assert row[2:7] == [
        "Diproses",
        "Normal",
        "Aplikasi",
        "Dinas Komunikasi dan Informatika",
        "Budi Santoso",
    ]
    created = datetime.fromisoformat(first["created_at"]).astimezone(ZoneInfo("Asia/Jakarta"))
    assert row[7] == created.strftime("%Y-%m-%d %H:%M") and row[8] == ""
    # A title that a spreadsheet would run as a formula is text.
    assert by_number[formula["number"]][1] == "'" + FORMULA_TITLE

    english = await export(
        world, agent, unit_id=str(unit), lang="en", columns="number,status,channel,overdue"
    )
    assert f'filename="tickets-{day}.csv"' in english.headers["content-disposition"]
    header, *rows = parse_csv(english)
    assert header == ["Number", "Status", "Channel", "Overdue"]
    assert [first["number"], "In progress", "Phone", "no"] in rows


async def test_the_same_rows_as_the_list_for_the_same_filters(world):
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit)
    agent = await world.person("agent")
    admin = await world.person("admin")
    tickets = [await world.create(requester, title=f"Printer lantai {i} rusak") for i in range(4)]
    tickets.append(await world.create(requester, title="Server down di gedung B"))  # critical
    await world.act(agent, tickets[0], "claim")
    await world.act(agent, tickets[1], "claim")
    await world.act(agent, tickets[1], "resolve", result_summary="Toner diganti")
    await world.act(agent, tickets[2], "reject", reason="Bukan urusan TIK")
    cases = [
        {},
        {"status": "new"},
        {"status": "in_progress,resolved"},
        {"priority": "critical"},
        {"assignee": "none"},
        {"q": "server"},
        {"overdue": "false"},
        {"sort": "number"},
        {"sort": "-priority"},
    ]
    for case in cases:
        params = {"unit_id": str(unit), **case}
        expected = await listed_numbers(world, admin, **params)
        _, *rows = parse_csv(await export(world, admin, columns="number", **params))
        assert [row[0] for row in rows] == expected, case
    _, *rows = parse_csv(
        await export(world, agent, columns="number", assignee="me", unit_id=str(unit))
    )
    assert sorted(row[0] for row in rows) == sorted(t["number"] for t in tickets[:2])
    # Bad filters are refused exactly as by the list.
    for params, field in (({"status": "lost"}, "status"), ({"sort": "colour"}, "sort")):
        response = await export(world, admin, **params)
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["field"] == field


async def test_a_requester_exports_their_own_units_tickets_only(world):
    unit, other = await world.unit("Dinas Pertanian"), await world.unit()
    requester = await world.person("requester", unit_id=unit)
    mine = await world.create(requester)
    await world.create(await world.person("requester", unit_id=other))
    _, *rows = parse_csv(await export(world, requester, columns="number,unit"))
    assert {row[1] for row in rows} == {"Dinas Pertanian"}
    assert [row[0] for row in rows] == await listed_numbers(world, requester)
    assert mine["number"] in {row[0] for row in rows}
    # Asking for another unit gives nothing, as the list does.
    _, *rows = parse_csv(await export(world, requester, unit_id=str(other)))
    assert rows == []


async def test_unknown_columns_and_personal_data(world):
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit)
    agent = await world.person("agent")
    admin = await world.person("admin", name="Admin Kominfo")
    ticket = await world.create(
        requester, contact_phone="+62 811 222 333", contact_email="pic@example.go.id"
    )

    response = await export(world, agent, columns="number,colour")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "unknown_column" and error["fields"][0]["field"] == "columns"
    assert "colour" in error["message"]

    personal = {"columns": "number,contact_phone,contact_email", "unit_id": str(unit)}
    response = await export(world, agent, **personal)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "personal_data_not_allowed"
    assert error["fields"][0]["field"] == "columns"
    assert "contact_phone" in error["message"] and "contact_email" in error["message"]
    columns = await world.client.get("/exports/columns", headers=agent.headers)
    allowed = {c["key"]: (c["personal"], c["allowed"]) for c in columns.json()}
    assert allowed["contact_phone"] == (True, False) and allowed["title"] == (False, True)
    assert len(allowed) == 24

    # Administrators may by default; then the policy lets agents too.
    header, *rows = parse_csv(await export(world, admin, **personal))
    # A leading "+" could start a formula: the cell is text ("'" in front).
    assert rows == [[ticket["number"], "'+62 811 222 333", "pic@example.go.id"]]
    policy = await world.client.get("/exports/policy", headers=agent.headers)
    assert policy.status_code == 200 and policy.json()["contact_roles"] == ["admin"]
    try:
        response = await world.client.put(
            "/exports/policy", json={"contact_roles": ["agent", "admin"]}, headers=agent.headers
        )
        assert response.status_code == 403
        response = await world.client.put(
            "/exports/policy", json={"contact_roles": ["admin", "hacker"]}, headers=admin.headers
        )
        assert response.status_code == 422
        response = await world.client.put(
            "/exports/policy", json={"contact_roles": ["agent", "admin"]}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["contact_roles"] == ["agent", "admin"]
        assert body["updated_by_name"] == "Admin Kominfo" and body["updated_at"]
        assert (await world.client.get("/exports/policy", headers=agent.headers)).json() == body
        header, *rows = parse_csv(await export(world, agent, **personal))
        assert header == ["Nomor", "Telepon narahubung", "E-mail narahubung"]
        assert rows == [[ticket["number"], "'+62 811 222 333", "pic@example.go.id"]]
        columns = await world.client.get("/exports/columns?lang=en", headers=agent.headers)
        phone = next(c for c in columns.json() if c["key"] == "contact_phone")
        assert phone == {
            "key": "contact_phone",
            "label": "Contact phone",
            "personal": True,
            "allowed": True,
        }
        # Requesters still may not, and may not read the policy.
        assert (await export(world, requester, **personal)).status_code == 403
        assert (
            await world.client.get("/exports/policy", headers=requester.headers)
        ).status_code == 403
    finally:
        await world.client.put(
            "/exports/policy", json={"contact_roles": ["admin"]}, headers=admin.headers
        )


async def test_every_export_is_logged(world):
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit)
    agent = await world.person("agent", name="Dewi Lestari")
    admin = await world.person("admin")
    for _ in range(3):
        await world.create(requester)
    parse_csv(await export(world, agent, unit_id=str(unit), status="new", columns="number,title"))
    parse_csv(await export(world, agent, unit_id=str(unit), lang="en"))

    page = await world.client.get("/exports/log", params={"limit": 1}, headers=admin.headers)
    assert page.status_code == 200, page.text
    (newest,) = page.json()["items"]
    assert newest["user_name"] == "Dewi Lestari" and newest["user_role"] == "agent"
    assert newest["status"] == "completed" and newest["row_count"] == 3
    assert newest["language"] == "en" and newest["finished_at"] >= newest["started_at"]
    cursor = page.json()["next_cursor"]
    page = await world.client.get(
        "/exports/log", params={"limit": 1, "cursor": cursor}, headers=admin.headers
    )
    (previous,) = page.json()["items"]
    assert previous["id"] < newest["id"]
    assert previous["columns"] == ["number", "title"] and previous["row_count"] == 3
    assert previous["filters"] == {
        "statuses": ["new"],
        "unit_id": str(unit),
        "sort": "-created_at",
    }
    assert (await world.client.get("/exports/log", headers=agent.headers)).status_code == 403
    bad = await world.client.get("/exports/log?cursor=abc", headers=admin.headers)
    assert bad.status_code == 422


async def test_export_path_does_not_shadow_tickets(world):
    requester = await world.person("requester", unit_id=await world.unit())
    ticket = await world.create(requester)
    response = await world.client.get(f"/tickets/{ticket['number']}", headers=requester.headers)
    assert response.status_code == 200 and response.json()["id"] == ticket["id"]
    assert (await world.client.get("/tickets/export.csv")).status_code == 401


async def test_the_stream_reads_one_read_only_snapshot(world):
    async with world.app.state.runtime.sessionmaker() as session:
        await service.begin_snapshot(session)
        isolation = await session.scalar(sa.text("SHOW transaction_isolation"))
        read_only = await session.scalar(sa.text("SHOW transaction_read_only"))
    assert (isolation, read_only) == ("repeatable read", "on")


async def test_a_client_that_goes_away_leaves_an_aborted_entry(world):
    """Drive the app as the server does: the client disconnects after the first chunk."""
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit)
    agent = await world.person("agent")
    await world.create(requester)
    sent: list[dict[str, Any]] = []
    first_chunk = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        await first_chunk.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_chunk.set()
            await asyncio.sleep(3600)  # a client that stopped reading

    query = f"unit_id={unit}&columns=number"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/tickets/export.csv",
        "raw_path": b"/tickets/export.csv",
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"authorization", agent.headers["Authorization"].encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
        "state": {},
    }
    sent.append({"type": "start"})
    await asyncio.wait_for(world.app(scope, receive, send), timeout=10)

    async def aborted() -> bool:
        async with world.app.state.runtime.sessionmaker() as session:
            entry = await session.scalar(sa.select(ExportLog).order_by(ExportLog.id.desc()))
        return entry is not None and entry.status == "aborted" and entry.finished_at is not None

    await eventually(aborted, timeout=10)


def test_the_log_keeps_the_filters_as_given():
    selection = TicketSelection(
        filters=TicketFilters(statuses=["new"], q="printer", overdue=False),
        sort=SortKey(name="number", descending=False),
    )
    assert selection.describe() == {"statuses": ["new"], "q": "printer", "sort": "number"}
    assert json.dumps(selection.describe())
    assert re.fullmatch(r"tiket-2026-12-04\.csv", service.export_filename("id", "2026-12-04"))


async def test_the_migration_creates_the_export_tables_as_declared(world):
    def differences(connection: Any) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with world.app.state.runtime.engine.connect() as connection:
        diffs = await connection.run_sync(differences)
    assert [d for d in diffs if "export_" in repr(d)] == []
