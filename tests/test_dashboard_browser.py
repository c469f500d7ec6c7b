"""The dashboard in a real browser (Debian's Chromium through Playwright) against the whole
system: the figures it shows are the reports API's, it follows changes by itself over the
live stream, it fits a phone, and a requester sees only their own unit.

Screenshots land in /tmp (dashboard-desktop.png, dashboard-phone.png) for a person to look at.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, expect

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import (
    PHONE,
    SCREENSHOTS,
    Api,
    Office,
    file_ticket,
    fits_phone,
    open_as,
    set_up_office,
)


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> Office:
    """A unit (unit A), a leader, an agent and a requester of the unit (passwords set, so
    the client does not ask them to change it)."""
    return await set_up_office(
        system,
        http,
        unit_name="Dinas Pendidikan",
        code_prefix="PEN",
        people={"leader": "leader", "agent": "agent", "requester": "requester"},
    )


@pytest.fixture(scope="module")
async def other_unit(office: Office) -> dict:
    """A second unit (unit B), whose figures the requester of unit A may not see."""
    return await office.admin.ok(
        "POST",
        "/api/identity/units",
        json={"code": f"KES{office.tag}".upper(), "name": "Dinas Kesehatan"},
    )


@pytest.fixture(scope="module", autouse=True)
async def tickets_before_the_browser_opens(office: Office, other_unit: dict) -> None:
    """Before the module's first test: both units, and two tickets in unit A (one resolved,
    one open)."""
    done = await create_ticket(office, "Printer lantai 2 macet")
    await resolve(office, done, "Rol kertas dibersihkan, printer normal kembali.")
    await create_ticket(office, "Akun e-mail terkunci")


async def create_ticket(office: Office, title: str) -> dict:
    """A ticket of unit A the agent files for a phone call."""
    return await file_ticket(
        office.people["agent"],
        title=f"{title} {office.tag}",
        description="Mohon dibantu.",
        category_id=office.category_id,
        unit_id=office.unit["id"],
        channel="phone",
    )


async def resolve(office: Office, ticket: dict, summary: str) -> None:
    path = f"/api/tickets/tickets/{ticket['id']}"
    await office.people["agent"].ok("POST", f"{path}/claim")
    await office.people["agent"].ok("POST", f"{path}/resolve", json={"result_summary": summary})


async def stat(page: Page, key: str) -> str:
    value = await page.get_attribute(f"[data-stat={key}] .stat-value", "data-value")
    return value or ""


async def shown_matches(page: Page, api: Api, query: dict[str, str]) -> bool:
    """The cards show what /summary says (read again: the system may still be settling)."""
    summary = await api.ok("GET", "/api/reports/summary", params=query)
    f = summary["figures"]
    expected = {
        "created": f["created"],
        "open_now": summary["open_now"],
        "resolved": f["resolved"],
        "escalated": f["escalated"],
        "sla_first_response": f["sla_first_response"]["compliance_percent"],
        "sla_resolution": f["sla_resolution"]["compliance_percent"],
        "reopen_rate": f["reopen_rate_percent"],
        "rejection_rate": f["rejection_rate_percent"],
        "first_response": f["first_response"]["mean_seconds"],
        "resolution": f["resolution"]["mean_seconds"],
    }
    for key, value in expected.items():
        shown = await stat(page, key)
        if shown != ("" if value is None else _js_number(value)):
            return False
    return True


def _js_number(value: float) -> str:
    # How String(n) writes a JSON number in JavaScript (100.0 -> "100").
    return str(int(value)) if float(value).is_integer() else repr(float(value))


async def test_leader_sees_the_apis_figures_and_live_updates(browser: Browser, office: Office):
    started = time.monotonic()
    errors: list[str] = []
    page = await open_as(browser, office, "leader", errors)
    await page.goto(f"{office.gateway}/#/dashboard")
    await expect(page.locator(".live")).to_have_attribute("data-live", "open")

    # Everything the period holds, as the API says (default period: this month).
    await eventually(lambda: shown_matches(page, office.people["leader"], {}), timeout=10)
    breakdown = await office.people["leader"].ok(
        "GET", "/api/reports/breakdown", params={"by": "unit"}
    )
    row_a = next(r for r in breakdown["rows"] if r["key"] == office.unit["id"])
    cells = page.locator(f"[data-breakdown=unit] tr[data-key='{office.unit['id']}'] td")
    await expect(cells.first).to_have_text(str(row_a["created"]))
    assert row_a["created"] == 2 and row_a["open_now"] == 1

    # Narrow to unit A with the filter box: the address keeps it, the page is not reloaded.
    await page.select_option("select[name=unit_id]", office.unit["id"])
    await expect(page).to_have_url(f"{office.gateway}/#/dashboard?unit_id={office.unit['id']}")
    scoped = {"unit_id": office.unit["id"]}
    await eventually(lambda: shown_matches(page, office.people["leader"], scoped), timeout=10)
    assert await stat(page, "created") == "2"
    assert await stat(page, "open_now") == "1"
    await expect(page.locator(".recap-item")).to_have_count(1)
    await expect(page.locator(".recap-summary")).to_have_text(
        "Rol kertas dibersihkan, printer normal kembali."
    )
    await page.screenshot(path=str(SCREENSHOTS / "dashboard-desktop.png"), full_page=True)

    # Changes arrive by themselves: no reload, no scroll jump, the same elements updated.
    await page.evaluate("document.querySelector('.dash-stats').dataset.marker = 'kept'")
    await page.evaluate("window.scrollTo(0, 400)")
    scrolled = await page.evaluate("window.scrollY")
    ticket = await create_ticket(office, "Jaringan ruang rapat putus")
    t0 = time.monotonic()
    await expect(page.locator("[data-stat=created] .stat-value")).to_have_attribute(
        "data-value", "3", timeout=5000
    )
    created_after = time.monotonic() - t0
    await expect(page.locator("[data-stat=open_now] .stat-value")).to_have_attribute(
        "data-value", "2"
    )
    await resolve(office, ticket, "Kabel switch diganti, koneksi pulih.")
    t0 = time.monotonic()
    await expect(page.locator("[data-stat=resolved] .stat-value")).to_have_attribute(
        "data-value", "2", timeout=5000
    )
    resolved_after = time.monotonic() - t0
    await expect(page.locator(".recap-item")).to_have_count(2)
    await expect(page.locator(".recap-item").first).to_contain_text("Kabel switch diganti")
    await expect(page.locator(".live-note")).to_contain_text("diperbarui")
    assert await page.evaluate("document.querySelector('.dash-stats').dataset.marker") == "kept"
    assert await page.evaluate("window.scrollY") == scrolled
    await eventually(lambda: shown_matches(page, office.people["leader"], scoped), timeout=5)
    print(f"live update: created {created_after:.2f}s, resolved {resolved_after:.2f}s")

    # Leaving the page closes the stream.
    closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_end(request: Request) -> None:
        if "/api/reports/stream" in request.url and not closed.done():
            closed.set_result(request.failure or "finished")

    page.on("requestfailed", on_end)
    page.on("requestfinished", on_end)
    await page.click("a[data-section=tickets]")
    await asyncio.wait_for(closed, timeout=5)
    assert errors == []
    await page.context.close()
    print(f"leader test body: {time.monotonic() - started:.1f}s")


async def test_phone_and_requester_view(browser: Browser, office: Office, other_unit: dict):
    # A leader's dashboard on a phone: nothing wider than the screen, the chart drawn.
    errors: list[str] = []
    page = await open_as(browser, office, "leader", errors, **PHONE)
    await page.goto(f"{office.gateway}/#/dashboard?unit_id={office.unit['id']}")
    await expect(page.locator(".live")).to_have_attribute("data-live", "open")
    await expect(page.locator("[data-stat=created] .stat-value")).not_to_have_attribute(
        "data-value", ""
    )
    await expect(page.locator(".recap-item").first).to_be_visible()
    await fits_phone(page)
    box = await page.locator(".chart-box canvas").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    cards = await page.locator(".stat").all()
    assert len(cards) == 10
    for card in cards[:2]:
        card_box = await card.bounding_box()
        assert (
            card_box and card_box["x"] >= 0 and card_box["x"] + card_box["width"] <= PHONE["width"]
        )
    await page.screenshot(path=str(SCREENSHOTS / "dashboard-phone.png"), full_page=True)
    await page.context.close()

    # A requester: their own unit's figures, no unit filter, and another unit refused.
    page = await open_as(browser, office, "requester", errors)
    await page.goto(f"{office.gateway}/#/dashboard")
    await expect(page.locator("h1")).to_contain_text(office.unit["name"])
    await eventually(lambda: shown_matches(page, office.people["requester"], {}), timeout=10)
    mine = await office.people["requester"].ok("GET", "/api/reports/summary")
    assert mine["filters"] == {"unit_id": office.unit["id"]}
    assert await stat(page, "created") == str(mine["figures"]["created"])
    await expect(page.locator("select[name=unit_id]")).to_have_count(0)
    await expect(page.locator("[data-breakdown=agent]")).to_have_count(0)

    await page.goto(f"{office.gateway}/#/dashboard?unit_id={other_unit['id']}")
    await expect(page.locator(".dash-problem .alert-error")).to_contain_text(
        "hanya dapat melihat laporan unit kerja Anda sendiri"
    )
    await expect(page.locator(".dash-figures")).to_be_hidden()
    await expect(page.locator(".stat")).to_have_count(0)
    assert errors == []
    await page.context.close()
