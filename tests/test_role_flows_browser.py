"""Each role's main flow through the web client in a real browser (Debian's Chromium through
Playwright) against the whole system (issue 13, item 5), every step under test clicked and
typed in the pages, never sent to the API:

1. an administrator adds a unit and a requester of it on the admin pages, and the requester
   signs in with the temporary password shown once and sets their own;
2. the requester files a ticket with the new-ticket form;
3. an agent accepts it (verification: it is theirs now), writes an internal note and a public
   comment, and resolves it with a result summary;
4. the requester sees the public comment and the summary but not the internal note, and
   confirms the resolution;
5. a leader's dashboard shows the reports service's figures for the unit's ticket.

The tests run in this order and share the flow (the unit, the requester, the ticket); the
agent and the leader are set up through the API. Screenshots of each step land in
/tmp/roleflows/ (roleflow-*.png) for a person to look at; a failing step leaves screenshots
of its pages too (helpdesk_testing.screenshots).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import PASSWORD, Api, create_user, login, sign_in

SHOTS = Path("/tmp/roleflows")  # noqa: S108 - screenshots for a person to look at
TICKET_PAGE = re.compile(r"#/tickets/([0-9a-f-]{36})$")
REQUESTER_PASSWORD = "pemohon-kuat-7"  # a throwaway test system's password
INTERNAL_NOTE = "Catatan internal: toner dari gudang lantai 3, jangan beri tahu pemohon."
PUBLIC_COMMENT = "Teknisi kami datang pukul 10.00 untuk mengganti toner."
RESULT = "Toner diganti dan printer diuji: mencetak normal."


@dataclass
class Flow:
    """What the steps hand on to each other."""

    gateway: str
    admin_password: str
    admin: Api
    tag: str
    agent: str  # usernames (password PASSWORD)
    leader: str
    agent_name: str
    unit_id: str = ""
    unit_name: str = ""
    requester: str = ""
    ticket: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def flow(system: LocalSystem, http: httpx.AsyncClient) -> Flow:
    gateway = system.gateway_url
    admin = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    agent_name = f"Agus Petugas {tag}"
    await create_user(admin, f"rfagent{tag}", PASSWORD, full_name=agent_name, role="agent")
    await create_user(
        admin, f"rfleader{tag}", PASSWORD, full_name=f"Lina Pimpinan {tag}", role="leader"
    )
    return Flow(
        gateway=gateway,
        admin_password=system.admin_password,
        admin=admin,
        tag=tag,
        agent=f"rfagent{tag}",
        leader=f"rfleader{tag}",
        agent_name=agent_name,
    )


async def shot(page: Page, name: str) -> None:
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"roleflow-{name}.png"), full_page=True)


def dialog(page: Page):
    return page.locator("dialog[open]")


async def open_ticket(browser: Browser, flow: Flow, username: str, password: str, errors: list):
    page = await sign_in(browser, flow.gateway, username, password, errors)
    await page.goto(f"{flow.gateway}/#/tickets/{flow.ticket['id']}")
    await expect(page.locator("h1")).to_have_text(flow.ticket["title"])
    return page


async def act(page: Page, action: str, **fields: str) -> None:
    """Clicks an action button and sends its dialog (filled with ``fields``)."""
    await page.locator(f".ticket-actions [data-action={action}]").click()
    for name, value in fields.items():
        await dialog(page).locator(f"[name={name}]").fill(value)
    await dialog(page).locator("button[type=submit]").click()
    await expect(dialog(page)).to_have_count(0)


async def test_admin_adds_a_unit_and_a_user_who_signs_in_with_the_temporary_password(
    browser: Browser, flow: Flow
) -> None:
    errors: list[str] = []
    page = await sign_in(browser, flow.gateway, "admin", flow.admin_password, errors)
    code, flow.unit_name = f"RF{flow.tag}".upper(), f"Dinas Alur Peran {flow.tag}"

    await page.goto(f"{flow.gateway}/#/admin/units")
    await page.get_by_role("button", name="Tambah unit").click()
    await dialog(page).locator("[name=code]").fill(code)
    await dialog(page).locator("[name=name]").fill(flow.unit_name)
    await dialog(page).locator("button[type=submit]").click()
    await expect(dialog(page)).to_have_count(0)
    await expect(page.locator("tbody tr", has_text=flow.unit_name)).to_contain_text(code)
    await shot(page, "1-admin-unit")

    flow.requester = f"rfpemohon{flow.tag}"
    full_name = f"Putri Pemohon {flow.tag}"
    await page.goto(f"{flow.gateway}/#/admin/users")
    await page.get_by_role("button", name="Tambah pengguna").click()
    form = dialog(page)
    await form.locator("[name=username]").fill(flow.requester)
    await form.locator("[name=full_name]").fill(full_name)
    await form.locator("[name=email]").fill(f"{flow.requester}@example.go.id")
    await form.locator("select[name=role]").select_option("requester")
    await form.locator("select[name=unit_id]").select_option(label=f"{flow.unit_name} ({code})")
    # No password: the server makes a temporary one, shown once.
    await form.locator("button[type=submit]").click()
    secret = dialog(page).locator("code.secret")
    await expect(secret).to_be_visible()
    temporary = (await secret.inner_text()).strip()
    await shot(page, "1-admin-user-temporary-password")
    await dialog(page).get_by_role("button", name="Tutup").click()
    await expect(page.locator("tbody tr", has_text=full_name)).to_contain_text(flow.unit_name)

    # What the pages made, as identity has it.
    units = await flow.admin.ok("GET", "/api/identity/units", params={"q": code})
    (unit,) = [u for u in units["items"] if u["code"] == code]
    flow.unit_id = unit["id"]
    users = await flow.admin.ok("GET", "/api/identity/users", params={"q": flow.requester})
    (user,) = users["items"]
    assert (user["role"], user["unit_id"], user["full_name"]) == (
        "requester",
        flow.unit_id,
        full_name,
    )

    # The new requester signs in with the temporary password and must set their own first.
    requester = await sign_in(browser, flow.gateway, flow.requester, temporary, errors)
    await expect(requester).to_have_url(re.compile(r"#/account$"))
    await expect(requester.locator(".alert-warning")).to_contain_text("harus diganti")
    await requester.locator("[name=current_password]").fill(temporary)
    await requester.locator("[name=new_password]").fill(REQUESTER_PASSWORD)
    await requester.locator("[name=confirm_password]").fill(REQUESTER_PASSWORD)
    await (
        requester.locator("form", has=requester.locator("[name=new_password]"))
        .locator("button[type=submit]")
        .click()
    )
    await expect(requester).not_to_have_url(re.compile(r"#/account$"))
    await expect(requester.locator(".user")).to_contain_text(full_name)
    await shot(requester, "1-requester-first-sign-in")
    assert errors == []
    await page.context.close()
    await requester.context.close()


async def test_requester_files_a_ticket_with_the_form(browser: Browser, flow: Flow) -> None:
    assert flow.requester, "the administrator's step made no requester"
    errors: list[str] = []
    page = await sign_in(browser, flow.gateway, flow.requester, REQUESTER_PASSWORD, errors)
    title = f"Printer ruang rapat tidak mencetak {flow.tag}"
    await page.goto(f"{flow.gateway}/#/new")
    form = page.locator("form.form-card")
    await form.locator("[name=title]").fill(title)
    await form.locator("[name=description]").fill("Lampu printer berkedip merah sejak pagi.")
    await form.locator("select[name=category_id]").select_option(index=1)
    await shot(page, "2-requester-form")
    await form.locator("button[type=submit]").click()
    await expect(page).to_have_url(TICKET_PAGE)
    match = TICKET_PAGE.search(page.url)
    assert match is not None
    await expect(page.locator("h1")).to_have_text(title)
    await expect(page.locator(".ticket-head .badge").first).to_have_text("Baru")
    await shot(page, "2-requester-ticket")
    flow.ticket = await flow.admin.ok("GET", f"/api/tickets/tickets/{match.group(1)}")
    assert flow.ticket["unit_id"] == flow.unit_id
    assert errors == []
    await page.context.close()


async def test_agent_accepts_comments_and_resolves(browser: Browser, flow: Flow) -> None:
    assert flow.ticket, "the requester's step filed no ticket"
    errors: list[str] = []
    page = await open_ticket(browser, flow, flow.agent, PASSWORD, errors)
    await act(page, "accept")
    await expect(page.locator(".ticket-head .badge").first).to_have_text("Diproses")
    await expect(page.locator(".details dd", has_text=flow.agent_name)).to_be_visible()

    box = page.locator(".comment-form textarea[name=body]")
    await box.fill(INTERNAL_NOTE)
    await page.locator(".comment-form [name=internal]").check()
    await page.locator(".comment-form button[type=submit]").click()
    note = page.locator(".tl-item.tl-internal", has_text=INTERNAL_NOTE)
    await expect(note.locator(".badge-internal")).to_be_visible()
    await expect(box).to_have_value("")

    await box.fill(PUBLIC_COMMENT)
    await page.locator(".comment-form button[type=submit]").click()
    public = page.locator(".tl-comment", has_text=PUBLIC_COMMENT)
    await expect(public).to_be_visible()
    await expect(public.locator(".badge-internal")).to_have_count(0)

    await act(page, "resolve", result_summary=RESULT)
    await expect(page.locator(".ticket-head .badge").first).to_have_text("Selesai")
    await expect(page.locator(".card.result")).to_contain_text(RESULT)
    await shot(page, "3-agent-resolved")
    assert errors == []
    await page.context.close()


async def test_requester_sees_only_the_public_comment_and_confirms(
    browser: Browser, flow: Flow
) -> None:
    assert flow.ticket, "the requester's step filed no ticket"
    errors: list[str] = []
    page = await open_ticket(browser, flow, flow.requester, REQUESTER_PASSWORD, errors)
    await expect(page.locator(".tl-comment", has_text=PUBLIC_COMMENT)).to_be_visible()
    await expect(page.locator(".card.result")).to_contain_text(RESULT)
    text = await page.locator("main").inner_text()
    assert "toner dari gudang" not in text
    assert await page.locator(".tl-internal, .badge-internal").count() == 0
    assert await page.locator(".comment-form [name=internal]").count() == 0
    await shot(page, "4-requester-resolved")

    await act(page, "confirm")
    await expect(page.locator(".ticket-head .badge").first).to_have_text("Ditutup")
    await expect(page.locator(".ticket-actions [data-action=confirm]")).to_have_count(0)
    await shot(page, "4-requester-confirmed")
    ticket = await flow.admin.ok("GET", f"/api/tickets/tickets/{flow.ticket['id']}")
    assert ticket["status"] == "closed"
    assert errors == []
    await page.context.close()


async def test_leader_sees_the_units_figures_on_the_dashboard(browser: Browser, flow: Flow) -> None:
    assert flow.unit_id, "the administrator's step made no unit"
    errors: list[str] = []
    page = await sign_in(browser, flow.gateway, flow.leader, PASSWORD, errors)
    leader = await login(flow.admin.http, flow.gateway, flow.leader, PASSWORD)
    await page.goto(f"{flow.gateway}/#/dashboard?unit_id={flow.unit_id}")
    await expect(page.locator(".live")).to_have_attribute("data-live", "open")

    async def shown(key: str) -> str:
        value = await page.get_attribute(f"[data-stat={key}] .stat-value", "data-value")
        return value or ""

    async def figures_agree() -> bool:
        """The cards show the reports service's numbers for the unit: its one ticket, filed,
        resolved and no longer open (read again while the read model settles)."""
        summary = await leader.ok("GET", "/api/reports/summary", params={"unit_id": flow.unit_id})
        expected = {
            "created": summary["figures"]["created"],
            "resolved": summary["figures"]["resolved"],
            "open_now": summary["open_now"],
        }
        return expected == {"created": 1, "resolved": 1, "open_now": 0} and all(
            [await shown(key) == str(value) for key, value in expected.items()]
        )

    await eventually(figures_agree, timeout=15, interval=0.3)
    await expect(page.locator(".recap-summary")).to_have_text(RESULT)
    await shot(page, "5-leader-dashboard")
    assert errors == []
    await page.context.close()
