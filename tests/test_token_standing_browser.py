"""The web client after an administrator changes a signed-in user (Debian's Chromium against
the whole system): an agent looking at tickets who is made leader continues without signing
in again and without a reload, with the leader's menu and no agent buttons; another agent
looking at a ticket someone else holds is offered only what they may do, and told who holds
it."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, expect

from helpdesk_testing import LocalSystem
from helpdesk_testing.browser import Office, file_ticket, open_as, set_up_office


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> Office:
    return await set_up_office(
        system,
        http,
        unit_name="Dinas Perubahan Peran",
        code_prefix="RC",
        people={"requester": "requester", "holder": "agent", "other": "agent", "demoted": "agent"},
    )


async def user_id(office: Office, kind: str) -> str:
    found = await office.admin.ok(
        "GET", "/api/identity/users", params={"q": office.usernames[kind]}
    )
    return str(found["items"][0]["id"])


async def test_an_agent_made_leader_continues_with_the_leaders_rights(
    browser: Browser, office: Office
):
    ticket = await file_ticket(
        office.people["requester"],
        title="Wi-Fi lantai 3 lambat",
        description="Sejak pagi koneksi putus-sambung.",
        category_id=office.category_id,
    )
    errors: list[str] = []
    page = await open_as(browser, office, "demoted", errors)
    await page.goto(f"{office.gateway}/#/tickets/{ticket['id']}")
    await expect(page.locator(".ticket-actions button[data-action=claim]")).to_be_visible()
    await expect(page.locator("#nav-main")).to_contain_text("Buat tiket")

    await office.admin.ok(
        "PATCH", f"/api/identity/users/{await user_id(office, 'demoted')}", json={"role": "leader"}
    )
    # The page's next call (the live stream ends with the outdated token) is refused, the
    # client refreshes its token and goes on as a leader: their menu, a read-only ticket.
    await expect(page.locator(".ticket-actions button[data-action=claim]")).to_have_count(
        0, timeout=10_000
    )
    await expect(page.locator(".ticket-actions")).to_contain_text("hanya dapat melihat")
    await expect(page.locator("#nav-main")).to_contain_text("Laporan terjadwal")
    await expect(page.locator("#nav-main")).not_to_contain_text("Buat tiket")
    assert "#/login" not in page.url
    assert not errors
    await page.context.close()


async def test_another_agent_is_told_who_holds_the_ticket(browser: Browser, office: Office):
    ticket = await file_ticket(
        office.people["requester"],
        title="Printer tidak bisa mencetak",
        description="Lampu indikator berkedip merah.",
        category_id=office.category_id,
    )
    await office.people["holder"].ok("POST", f"/api/tickets/tickets/{ticket['id']}/claim")
    errors: list[str] = []
    page = await open_as(browser, office, "other", errors)
    await page.goto(f"{office.gateway}/#/tickets/{ticket['id']}")
    actions = page.locator(".ticket-actions")
    await expect(actions.locator("button[data-action=reassign]")).to_be_visible()
    for action in ("pending", "resolve", "edit", "claim"):
        await expect(actions.locator(f"button[data-action={action}]")).to_have_count(0)
    await expect(page.locator(".held-note")).to_contain_text(office.full_names["holder"])
    # Comments stay open to every agent.
    await expect(page.locator("textarea").first).to_be_visible()
    assert not errors
    await page.context.close()
