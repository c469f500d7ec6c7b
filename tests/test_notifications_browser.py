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
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import (
    PHONE,
    Api,
    Office,
    file_ticket,
    open_as,
    set_up_office,
    sign_in,
)

SHOTS = Path("/tmp/notify")  # noqa: S108 - screenshots for a person to look at
NOTIFICATIONS = "/api/notifications/notifications"


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> AsyncIterator[Office]:
    """A unit with a requester, and two agents: one for the triage group, one not (passwords
    set, e-mail addresses)."""
    office = await set_up_office(
        system,
        http,
        unit_name="Dinas Notifikasi",
        code_prefix="NTF",
        people={"triage": "agent", "other": "agent", "requester": "requester"},
        emails=True,
    )
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    yield office
    # The system is shared with the other end-to-end tests: every agent hears of new
    # tickets again.
    await office.admin.ok(
        "PUT", f"{NOTIFICATIONS}/triage", json={"mode": "all_agents", "members": []}
    )


async def notices(api: Api, ticket: dict, event_type: str) -> list[dict]:
    page = await api.ok("GET", NOTIFICATIONS, params={"limit": 50})
    return [
        n for n in page["items"] if n["ticket_id"] == ticket["id"] and n["event_type"] == event_type
    ]


async def mails_to(http: httpx.AsyncClient, system: LocalSystem, address: str) -> list[dict]:
    response = await http.get(f"{system.mail_url}/api/messages", params={"to": address})
    return response.json()


async def test_triage_group_assignment_and_preferences(
    browser: Browser, office: Office, system: LocalSystem, http: httpx.AsyncClient
):
    errors: list[str] = []
    triage_name = office.full_names["triage"]
    triage_id = (await office.people["triage"].ok("GET", "/api/identity/auth/me"))["id"]

    # -- the administrator sets a triage group of one agent, in the page -----------------
    # The notifications service learns new users from identity's events.
    async def known() -> bool:
        triage = await office.admin.ok("GET", f"{NOTIFICATIONS}/triage")
        return triage_id in {c["user_id"] for c in triage["candidates"]}

    await eventually(known, timeout=15)
    admin = await sign_in(browser, office.gateway, "admin", system.admin_password, errors)
    await admin.goto(f"{office.gateway}/#/admin/triage")
    await admin.get_by_role("radio", name="Kelompok triase").check()
    picker = admin.get_by_role("combobox", name="Tambah anggota")
    await picker.select_option(triage_id)
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
    saved = await office.admin.ok("GET", f"{NOTIFICATIONS}/triage")
    assert saved["mode"] == "all_agents" and saved["members"] == []
    # Always on duty, then.
    await member.get_by_label("Hanya pada jam tugas").uncheck()
    await admin.get_by_role("button", name="Simpan").click()
    await expect(admin.get_by_text(f"akan diberitahukan kepada: {triage_name}")).to_be_visible()
    await admin.screenshot(path=str(SHOTS / "notify-triage-desktop.png"), full_page=True)
    saved = await office.admin.ok("GET", f"{NOTIFICATIONS}/triage")
    assert saved["mode"] == "triage_group"
    assert [m["user_id"] for m in saved["members"]] == [triage_id]

    # -- a new ticket alerts the triage agent only ---------------------------------------
    ticket = await file_ticket(
        office.people["requester"],
        title=f"Printer ruang rapat macet {office.tag}",
        description="Mohon dibantu.",
        category_id=office.category_id,
        contact_name="Andi",
    )

    async def alerted() -> list[dict]:
        return await notices(office.people["triage"], ticket, "ticket.created")

    [alert] = await eventually(alerted, timeout=15)
    assert alert["addressed"] is False  # a new ticket in the queue is a broadcast
    # Written in the same transaction as the triage agent's: none for the other agent.
    assert await notices(office.people["other"], ticket, "ticket.created") == []
    requester_mail = office.emails["requester"]
    assert any(
        ticket["number"] in m["subject"] for m in await mails_to(http, system, requester_mail)
    )

    # -- the assignment stands out ------------------------------------------------------
    path = f"/api/tickets/tickets/{ticket['id']}"
    await office.admin.ok("POST", f"{path}/assign", json={"assignee_id": triage_id})

    async def assigned() -> list[dict]:
        return await notices(office.people["triage"], ticket, "ticket.assigned")

    [assignment] = await eventually(assigned, timeout=15)
    assert assignment["addressed"] is True

    agent = await open_as(browser, office, "triage", errors)
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
    await expect(agent).to_have_url(f"{office.gateway}/#/notifications?for=me")
    items = agent.locator(".notif-page li")
    await expect(items).to_have_count(1)
    await expect(items.first).to_contain_text("Untuk Anda")
    await expect(items.first).to_contain_text("Tiket ditugaskan kepada Anda")
    await agent.screenshot(path=str(SHOTS / "notify-for-me-desktop.png"), full_page=True)
    await agent.get_by_role("link", name="Semua", exact=True).click()
    await expect(agent.locator(".notif-page li")).to_have_count(2)
    await expect(agent.locator(".notif-page li.addressed")).to_have_count(1)

    # -- comments: mailed at first; then e-mail off on the preferences page --------------
    triage_mail = office.emails["triage"]
    comments = f"{path}/comments"
    await office.people["requester"].ok(
        "POST", comments, json={"body": "Sudah dicoba.", "internal": False}
    )

    async def comment_mails() -> list[dict]:
        return [m for m in await mails_to(http, system, triage_mail) if "Komentar" in m["subject"]]

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

    await office.people["requester"].ok(
        "POST", comments, json={"body": "Masih macet.", "internal": False}
    )

    async def two_comment_notices() -> list[dict] | None:
        found = await notices(office.people["triage"], ticket, "ticket.commented")
        return found if len(found) == 2 else None

    await eventually(two_comment_notices, timeout=15)
    # Its mail would be in the outbox in the same transaction as the notice: there is none.
    deliveries = await office.admin.ok(
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
    phone = await open_as(browser, office, "triage", errors, **PHONE)
    await phone.goto(f"{office.gateway}/#/account/notifications")
    await expect(phone.get_by_label("E-mail: Komentar atau balasan")).to_have_value("off")
    await phone.screenshot(path=str(SHOTS / "notify-preferences-phone.png"), full_page=True)
    await phone.goto(f"{office.gateway}/#/notifications?for=me")
    await expect(phone.locator(".notif-page li.addressed").first).to_be_visible()
    await phone.screenshot(path=str(SHOTS / "notify-for-me-phone.png"), full_page=True)
    admin_phone = await sign_in(
        browser, office.gateway, "admin", system.admin_password, errors, **PHONE
    )
    await admin_phone.goto(f"{office.gateway}/#/admin/triage")
    await expect(admin_phone.locator(".triage-member", has_text=triage_name)).to_be_visible()
    await admin_phone.screenshot(path=str(SHOTS / "notify-triage-phone.png"), full_page=True)

    assert errors == []
