"""Focused notifications in a real browser (Debian's Chromium through Playwright) against the
whole system: an administrator sets a triage group of one agent on the admin page; a
requester files a ticket; the triage agent gets the in-app alert and the other agent does
not; an assignment stands out in the bell (its strong badge) and on the notifications page
("Untuk saya"); the agent turns e-mail off for comments on the preferences page and gets no
mail for the next comment (checked in the mail catcher and the outbox) but still the in-app
notice; the pages on a phone.

Screenshots land in /tmp/notify/ (notify-*.png) for a person to look at.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import Api, create_user, login, sign_in

PASSWORD = "rahasia-kuat-3"
PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp/notify")  # noqa: S108 - screenshots for a person to look at
NOTIFICATIONS = "/api/notifications/notifications"


@dataclass
class World:
    system: LocalSystem
    http: httpx.AsyncClient
    tag: str
    unit: dict
    admin: Api
    triage_agent: Api
    other_agent: Api
    requester: Api
    users: dict[str, dict]  # kind -> the identity user
    category_id: str


@pytest.fixture(scope="module")
async def world(system: LocalSystem, http: httpx.AsyncClient) -> AsyncIterator[World]:
    gateway = system.gateway_url
    root = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    unit = await root.ok(
        "POST",
        "/api/identity/units",
        json={"code": f"NTF{tag}".upper(), "name": f"Dinas Notifikasi {tag}"},
    )
    apis: dict[str, Api] = {}
    for kind, role, extra in (
        ("triage", "agent", {}),
        ("other", "agent", {}),
        ("requester", "requester", {"unit_id": unit["id"]}),
    ):
        apis[kind] = await create_user(
            root,
            f"ntf{kind}{tag}",
            PASSWORD,
            full_name=f"{kind.title()} Notif {tag}",
            role=role,
            email=f"ntf{kind}{tag}@example.go.id",
            **extra,
        )
    users = {kind: await api.ok("GET", "/api/identity/auth/me") for kind, api in apis.items()}
    categories = await apis["requester"].ok("GET", "/api/tickets/categories")
    items = categories["items"] if isinstance(categories, dict) else categories
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    yield World(
        system=system,
        http=http,
        tag=tag,
        unit=unit,
        admin=root,
        triage_agent=apis["triage"],
        other_agent=apis["other"],
        requester=apis["requester"],
        users=users,
        category_id=items[0]["id"],
    )
    # The system is shared with the other end-to-end tests: every agent hears of new
    # tickets again.
    await root.ok("PUT", f"{NOTIFICATIONS}/triage", json={"mode": "all_agents", "members": []})


async def open_as(browser: Browser, world: World, kind: str, errors: list[str], **size) -> Page:
    username = "admin" if kind == "admin" else f"ntf{kind}{world.tag}"
    password = world.system.admin_password if kind == "admin" else PASSWORD
    return await sign_in(browser, world.system.gateway_url, username, password, errors, **size)


async def file_ticket(world: World, title: str) -> dict:
    # The tickets service learns the new unit from identity's events: retry until it knows.
    async def attempt() -> dict | None:
        response = await world.requester.call(
            "POST",
            "/api/tickets/tickets",
            json={
                "title": f"{title} {world.tag}",
                "description": "Mohon dibantu.",
                "category_id": world.category_id,
                "contact_name": "Andi",
            },
        )
        return response.json() if response.status_code == 201 else None

    return await eventually(attempt, timeout=20, interval=0.2)


async def notices(api: Api, ticket: dict, event_type: str) -> list[dict]:
    page = await api.ok("GET", NOTIFICATIONS, params={"limit": 50})
    return [
        n for n in page["items"] if n["ticket_id"] == ticket["id"] and n["event_type"] == event_type
    ]


async def mails_to(world: World, address: str) -> list[dict]:
    response = await world.http.get(f"{world.system.mail_url}/api/messages", params={"to": address})
    return response.json()


async def test_triage_group_assignment_and_preferences(browser: Browser, world: World):
    errors: list[str] = []
    triage_name = world.users["triage"]["full_name"]

    # -- the administrator sets a triage group of one agent, in the page -----------------
    # The notifications service learns new users from identity's events.
    async def known() -> bool:
        triage = await world.admin.ok("GET", f"{NOTIFICATIONS}/triage")
        return world.users["triage"]["id"] in {c["user_id"] for c in triage["candidates"]}

    await eventually(known, timeout=15)
    admin = await open_as(browser, world, "admin", errors)
    await admin.goto(f"{world.system.gateway_url}/#/admin/triage")
    await admin.get_by_role("radio", name="Kelompok triase").check()
    picker = admin.get_by_role("combobox", name="Tambah anggota")
    await picker.select_option(world.users["triage"]["id"])
    await admin.get_by_role("button", name="Tambah anggota").click()
    member = admin.locator(".triage-member", has_text=triage_name)
    await expect(member).to_be_visible()
    # Duty hours: a bad range is refused next to the field, and nothing is saved.
    await member.get_by_label("Hanya pada jam tugas").check()
    await member.get_by_label("Dari").fill("17:00")
    await member.get_by_label("Sampai").fill("08:00")
    await admin.get_by_role("button", name="Simpan").click()
    await expect(member.locator(".field-error:visible")).to_have_text(
        "Jam selesai harus setelah jam mulai (dalam satu hari)."
    )
    saved = await world.admin.ok("GET", f"{NOTIFICATIONS}/triage")
    assert saved["mode"] == "all_agents" and saved["members"] == []
    # Always on duty, then.
    await member.get_by_label("Hanya pada jam tugas").uncheck()
    await admin.get_by_role("button", name="Simpan").click()
    await expect(admin.get_by_text(f"akan diberitahukan kepada: {triage_name}")).to_be_visible()
    await admin.screenshot(path=str(SHOTS / "notify-triage-desktop.png"), full_page=True)
    saved = await world.admin.ok("GET", f"{NOTIFICATIONS}/triage")
    assert saved["mode"] == "triage_group"
    assert [m["user_id"] for m in saved["members"]] == [world.users["triage"]["id"]]

    # -- a new ticket alerts the triage agent only ---------------------------------------
    ticket = await file_ticket(world, "Printer ruang rapat macet")

    async def alerted() -> list[dict]:
        return await notices(world.triage_agent, ticket, "ticket.created")

    [alert] = await eventually(alerted, timeout=15)
    assert alert["addressed"] is False  # a new ticket in the queue is a broadcast
    # Written in the same transaction as the triage agent's: none for the other agent.
    assert await notices(world.other_agent, ticket, "ticket.created") == []
    requester_mail = world.users["requester"]["email"]
    assert any(ticket["number"] in m["subject"] for m in await mails_to(world, requester_mail))

    # -- the assignment stands out ------------------------------------------------------
    path = f"/api/tickets/tickets/{ticket['id']}"
    await world.admin.ok(
        "POST", f"{path}/assign", json={"assignee_id": world.users["triage"]["id"]}
    )

    async def assigned() -> list[dict]:
        return await notices(world.triage_agent, ticket, "ticket.assigned")

    [assignment] = await eventually(assigned, timeout=15)
    assert assignment["addressed"] is True

    agent = await open_as(browser, world, "triage", errors)
    bell = agent.locator("button.bell")
    await expect(bell.locator(".bell-addressed")).to_have_text("1")
    await expect(bell.locator(".bell-addressed")).to_be_visible()
    await expect(bell).to_have_attribute(
        "aria-label", "Notifikasi: 1 untuk Anda, 1 lainnya belum dibaca"
    )
    await bell.click()
    panel = agent.locator("#notif-panel")
    first = panel.locator(".notif-list li").first
    await expect(first).to_have_class("unread addressed")
    await expect(first).to_contain_text("Tiket ditugaskan kepada Anda")
    await agent.screenshot(path=str(SHOTS / "notify-bell-desktop.png"))
    await panel.get_by_role("link", name="Lihat semua notifikasi").click()
    await agent.get_by_role("link", name="Untuk saya").click()
    await expect(agent).to_have_url(f"{world.system.gateway_url}/#/notifications?for=me")
    items = agent.locator(".notif-page li")
    await expect(items).to_have_count(1)
    await expect(items.first).to_contain_text("Untuk Anda")
    await expect(items.first).to_contain_text("Tiket ditugaskan kepada Anda")
    await agent.screenshot(path=str(SHOTS / "notify-for-me-desktop.png"), full_page=True)
    await agent.get_by_role("link", name="Semua", exact=True).click()
    await expect(agent.locator(".notif-page li")).to_have_count(2)
    await expect(agent.locator(".notif-page li.addressed")).to_have_count(1)

    # -- comments: mailed at first; then e-mail off on the preferences page --------------
    triage_mail = world.users["triage"]["email"]
    comments = f"{path}/comments"
    await world.requester.ok("POST", comments, json={"body": "Sudah dicoba.", "internal": False})

    async def comment_mails() -> list[dict]:
        return [m for m in await mails_to(world, triage_mail) if "Komentar" in m["subject"]]

    assert len(await eventually(comment_mails, timeout=15)) == 1

    await agent.get_by_role("link", name="Pengaturan notifikasi").click()
    await expect(agent.get_by_role("heading", name="Pengaturan notifikasi")).to_be_visible()
    email = agent.get_by_label("E-mail: Komentar atau balasan")
    await expect(email).to_have_value("instant")
    await email.select_option("off")
    await agent.get_by_role("button", name="Simpan").click()
    await expect(agent.get_by_text("Pengaturan notifikasi tersimpan.")).to_be_visible()
    await agent.screenshot(path=str(SHOTS / "notify-preferences-desktop.png"), full_page=True)
    await agent.reload()
    await expect(agent.get_by_label("E-mail: Komentar atau balasan")).to_have_value("off")
    await expect(
        agent.get_by_label("Notifikasi di aplikasi: Komentar atau balasan")
    ).to_be_checked()

    await world.requester.ok("POST", comments, json={"body": "Masih macet.", "internal": False})

    async def two_comment_notices() -> list[dict] | None:
        found = await notices(world.triage_agent, ticket, "ticket.commented")
        return found if len(found) == 2 else None

    await eventually(two_comment_notices, timeout=15)
    # Its mail would be in the outbox in the same transaction as the notice: there is none.
    deliveries = await world.admin.ok(
        "GET", "/api/notifications/admin/deliveries", params={"ticket_id": ticket["id"]}
    )
    comment_deliveries = [
        d
        for d in deliveries["items"]
        if d["recipient"] == triage_mail.lower() and d["event_type"] == "ticket.commented"
    ]
    assert len(comment_deliveries) == 1
    assert len(await comment_mails()) == 1

    # -- on a phone ------------------------------------------------------------------------
    phone = await open_as(browser, world, "triage", errors, **PHONE)
    await phone.goto(f"{world.system.gateway_url}/#/account/notifications")
    await expect(phone.get_by_label("E-mail: Komentar atau balasan")).to_have_value("off")
    await phone.screenshot(path=str(SHOTS / "notify-preferences-phone.png"), full_page=True)
    await phone.goto(f"{world.system.gateway_url}/#/notifications?for=me")
    await expect(phone.locator(".notif-page li.addressed").first).to_be_visible()
    await phone.screenshot(path=str(SHOTS / "notify-for-me-phone.png"), full_page=True)
    admin_phone = await open_as(browser, world, "admin", errors, **PHONE)
    await admin_phone.goto(f"{world.system.gateway_url}/#/admin/triage")
    await expect(admin_phone.locator(".triage-member", has_text=triage_name)).to_be_visible()
    await admin_phone.screenshot(path=str(SHOTS / "notify-triage-phone.png"), full_page=True)

    assert errors == []
