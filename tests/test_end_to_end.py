"""A request's whole life through the gateway, across every service, over real HTTP, AMQP,
PostgreSQL and SMTP: a unit asks, the IT office works it, the unit confirms; mails and in-app
notifications arrive; internal notes stay internal."""

from __future__ import annotations

import re
import uuid

import httpx

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import Api, file_ticket, first_category_id, login

# The API client under the name test_attachments_e2e imports it by (with login and mails_to).
Client = Api


async def mails_to(http: httpx.AsyncClient, system: LocalSystem, address: str) -> list[dict]:
    response = await http.get(f"{system.mail_url}/api/messages", params={"to": address})
    return response.json()


async def test_request_lifecycle_across_services(system: LocalSystem, http: httpx.AsyncClient):
    gateway = system.gateway_url
    admin = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    unit = await admin.ok(
        "POST",
        "/api/identity/units",
        json={
            "code": f"DISDIK{tag}".upper(),
            "name": "Dinas Pendidikan",
            "contact_name": "Bu Sari",
            "contact_email": f"kontak-{tag}@disdik.example.go.id",
        },
    )
    password = "rahasia-kuat-1"
    requester_email = f"pemohon-{tag}@disdik.example.go.id"
    agent_email = f"petugas-{tag}@kominfo.example.go.id"
    await admin.ok(
        "POST",
        "/api/identity/users",
        json={
            "username": f"pemohon{tag}",
            "full_name": "Andi Pemohon",
            "email": requester_email,
            "role": "requester",
            "unit_id": unit["id"],
            "password": password,
        },
    )
    await admin.ok(
        "POST",
        "/api/identity/users",
        json={
            "username": f"petugas{tag}",
            "full_name": "Budi Petugas",
            "email": agent_email,
            "role": "agent",
            "password": password,
        },
    )
    requester = await login(http, gateway, f"pemohon{tag}", password)
    agent = await login(http, gateway, f"petugas{tag}", password)
    category_id = await first_category_id(agent)

    # The tickets service learns the new unit from identity's events, then accepts tickets.
    ticket = await file_ticket(
        requester,
        title="Jaringan internet di ruang guru terputus",
        description="Sejak pagi tidak ada koneksi internet di ruang guru lantai 2.",
        category_id=category_id,
        contact_name="Andi",
    )
    assert re.fullmatch(r"TKT-\d{4}-\d{6}", ticket["number"])
    assert ticket["status"] == "new" and ticket["unit_id"] == unit["id"]
    path = f"/api/tickets/tickets/{ticket['id']}"

    claimed = await agent.ok("POST", f"{path}/claim")
    assert claimed["status"] == "in_progress" and claimed["assignee_name"] == "Budi Petugas"
    await agent.ok(
        "POST", f"{path}/comments", json={"body": "Catatan internal: cek switch", "internal": True}
    )
    await agent.ok(
        "POST", f"{path}/comments", json={"body": "Teknisi menuju lokasi.", "internal": False}
    )
    resolved = await agent.ok(
        "POST", f"{path}/resolve", json={"result_summary": "Kabel switch diganti, koneksi pulih."}
    )
    assert resolved["status"] == "resolved"
    closed = await requester.ok("POST", f"{path}/confirm")
    assert closed["status"] == "closed" and closed["closed_at"]

    # The requester sees the public conversation and the history, never the internal note.
    comments = await requester.ok("GET", f"{path}/comments")
    bodies = [c["body"] for c in (comments["items"] if isinstance(comments, dict) else comments)]
    assert bodies == ["Teknisi menuju lokasi."]
    timeline = await requester.ok("GET", f"{path}/timeline")
    entries = timeline["items"] if isinstance(timeline, dict) else timeline
    assert "Catatan internal" not in str(entries)
    assert {"created", "resolved"} <= {e["kind"] for e in entries} | {
        (e.get("after") or {}).get("status") for e in entries
    }
    # IT staff read every unit's tickets through the gateway. (Another unit's requester gets a
    # 404 instead: covered in services/tickets/tests/test_tickets_api.py.)
    assert (await agent.call("GET", path)).status_code == 200

    # E-mails went out over SMTP, in Bahasa Indonesia, with the number and a link.
    async def requester_mails() -> list[dict] | None:
        mails = await mails_to(http, system, requester_email)
        subjects = " ".join(m["subject"] for m in mails)
        return mails if ticket["number"] in subjects and len(mails) >= 2 else None

    mails = await eventually(requester_mails, timeout=20)
    assert all(ticket["number"] in m["subject"] for m in mails)
    assert any(f"#/tickets/{ticket['id']}" in m["text"] for m in mails)
    assert not any("Catatan internal" in m["text"] for m in mails)
    unit_contact = await eventually(
        lambda: mails_to(http, system, unit["contact_email"]), timeout=20
    )
    assert ticket["number"] in unit_contact[0]["subject"]

    # And the requester has in-app notifications for it, unread: one for each step they did
    # not take themselves (their own create and confirm tell them nothing). Waiting for all
    # of them, so that none arrives after the read-all below.
    expected = {"ticket.status_changed", "ticket.commented", "ticket.resolved"}

    async def inbox() -> dict | None:
        page = await requester.ok("GET", "/api/notifications/notifications")
        mine = [n for n in page["items"] if n["ticket_id"] == ticket["id"]]
        arrived = {n["event_type"] for n in mine}
        return page if expected <= arrived and page["unread_count"] >= len(mine) else None

    page = await eventually(inbox, timeout=20)
    await requester.ok("POST", "/api/notifications/notifications/read-all")
    assert (await requester.ok("GET", "/api/notifications/notifications/unread-count")) == {
        "unread_count": 0,
        "addressed_unread_count": 0,
    }
    assert page["items"]


async def test_requester_never_sees_another_units_ticket(
    system: LocalSystem, http: httpx.AsyncClient
):
    gateway = system.gateway_url
    admin = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    password = "rahasia-kuat-1"
    users = {}
    for name in ("a", "b"):
        unit = await admin.ok(
            "POST",
            "/api/identity/units",
            json={"code": f"U{name}{tag}".upper(), "name": f"Unit {name}"},
        )
        await admin.ok(
            "POST",
            "/api/identity/users",
            json={
                "username": f"req{name}{tag}",
                "full_name": f"Pemohon {name}",
                "role": "requester",
                "unit_id": unit["id"],
                "password": password,
            },
        )
        users[name] = await login(http, gateway, f"req{name}{tag}", password)
    ticket = await file_ticket(
        users["a"],
        title="Printer rusak",
        description="Tidak bisa mencetak",
        category_id=await first_category_id(users["a"]),
    )
    other = users["b"]
    assert (await other.call("GET", f"/api/tickets/tickets/{ticket['id']}")).status_code == 404
    assert (
        await other.call("GET", f"/api/tickets/tickets/{ticket['id']}/timeline")
    ).status_code == 404
    listed = await other.ok("GET", "/api/tickets/tickets")
    assert ticket["id"] not in str(listed)
    # Through the gateway, a request without a token never reaches a service.
    assert (await http.get(f"{gateway}/api/tickets/tickets")).status_code == 401
