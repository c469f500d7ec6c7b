"""The dashboard in a real browser (Debian's Chromium through Playwright) against the whole
system: the figures it shows are the reports API's, it follows changes by itself over the
live stream, it fits a phone, and a requester sees only their own unit.

Screenshots land in /tmp (dashboard-desktop.png, dashboard-phone.png) for a person to look at.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, expect

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import SCREENSHOTS, Api, login, sign_in

PASSWORD = "rahasia-kuat-1"


@dataclass
class World:
    gateway: str
    tag: str
    unit_a: dict
    unit_b: dict
    leader: str
    requester: str
    agent: Api
    leader_api: Api
    requester_api: Api
    category_id: str


@pytest.fixture(scope="module")
async def world(system: LocalSystem, http: httpx.AsyncClient) -> World:
    """Two units, a leader, an agent and a requester of the first unit (passwords set, so
    the client does not ask them to change it), known to the tickets service."""
    gateway = system.gateway_url
    admin = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    units = []
    for name in ("Dinas Pendidikan", "Dinas Kesehatan"):
        code = f"{name.split()[1][:3]}{tag}".upper()
        units.append(
            await admin.ok("POST", "/api/identity/units", json={"code": code, "name": name})
        )
    people = {
        "leader": {"role": "leader"},
        "agent": {"role": "agent"},
        "requester": {"role": "requester", "unit_id": units[0]["id"]},
    }
    for kind, extra in people.items():
        await admin.ok(
            "POST",
            "/api/identity/users",
            json={
                "username": f"{kind}{tag}",
                "full_name": f"{kind.title()} {tag}",
                "password": "sementara-1",
                **extra,
            },
        )
        first = await login(http, gateway, f"{kind}{tag}", "sementara-1")
        await first.ok(
            "POST",
            "/api/identity/auth/me/password",
            json={"current_password": "sementara-1", "new_password": PASSWORD},
        )
    agent = await login(http, gateway, f"agent{tag}", PASSWORD)
    categories = await agent.ok("GET", "/api/tickets/categories")
    world = World(
        gateway=gateway,
        tag=tag,
        unit_a=units[0],
        unit_b=units[1],
        leader=f"leader{tag}",
        requester=f"requester{tag}",
        agent=agent,
        leader_api=await login(http, gateway, f"leader{tag}", PASSWORD),
        requester_api=await login(http, gateway, f"requester{tag}", PASSWORD),
        category_id=categories[0]["id"],
    )
    # Two tickets in unit A before the browser opens: one resolved, one open.
    done = await create_ticket(world, "Printer lantai 2 macet")
    await resolve(world, done, "Rol kertas dibersihkan, printer normal kembali.")
    await create_ticket(world, "Akun e-mail terkunci")
    return world


async def create_ticket(world: World, title: str) -> dict:
    # The tickets service learns new units from identity's events: retry until it knows.
    async def attempt() -> dict | None:
        response = await world.agent.call(
            "POST",
            "/api/tickets/tickets",
            json={
                "title": f"{title} {world.tag}",
                "description": "Mohon dibantu.",
                "category_id": world.category_id,
                "unit_id": world.unit_a["id"],
                "channel": "phone",
            },
        )
        return response.json() if response.status_code == 201 else None

    return await eventually(attempt, timeout=20, interval=0.2)


async def resolve(world: World, ticket: dict, summary: str) -> None:
    path = f"/api/tickets/tickets/{ticket['id']}"
    await world.agent.ok("POST", f"{path}/claim")
    await world.agent.ok("POST", f"{path}/resolve", json={"result_summary": summary})


async def open_page(
    browser: Browser,
    world: World,
    username: str,
    errors: list[str],
    *,
    width: int = 1366,
    height: int = 900,
) -> Page:
    return await sign_in(
        browser, world.gateway, username, PASSWORD, errors, width=width, height=height
    )


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


async def test_leader_sees_the_apis_figures_and_live_updates(browser: Browser, world: World):
    started = time.monotonic()
    errors: list[str] = []
    page = await open_page(browser, world, world.leader, errors)
    await page.goto(f"{world.gateway}/#/dashboard")
    await expect(page.locator(".live")).to_have_attribute("data-live", "open")

    # Everything the period holds, as the API says (default period: this month).
    await eventually(lambda: shown_matches(page, world.leader_api, {}), timeout=10)
    breakdown = await world.leader_api.ok("GET", "/api/reports/breakdown", params={"by": "unit"})
    row_a = next(r for r in breakdown["rows"] if r["key"] == world.unit_a["id"])
    cells = page.locator(f"[data-breakdown=unit] tr[data-key='{world.unit_a['id']}'] td")
    await expect(cells.first).to_have_text(str(row_a["created"]))
    assert row_a["created"] == 2 and row_a["open_now"] == 1

    # Narrow to unit A with the filter box: the address keeps it, the page is not reloaded.
    await page.select_option("select[name=unit_id]", world.unit_a["id"])
    await expect(page).to_have_url(f"{world.gateway}/#/dashboard?unit_id={world.unit_a['id']}")
    scoped = {"unit_id": world.unit_a["id"]}
    await eventually(lambda: shown_matches(page, world.leader_api, scoped), timeout=10)
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
    ticket = await create_ticket(world, "Jaringan ruang rapat putus")
    t0 = time.monotonic()
    await expect(page.locator("[data-stat=created] .stat-value")).to_have_attribute(
        "data-value", "3", timeout=5000
    )
    created_after = time.monotonic() - t0
    await expect(page.locator("[data-stat=open_now] .stat-value")).to_have_attribute(
        "data-value", "2"
    )
    await resolve(world, ticket, "Kabel switch diganti, koneksi pulih.")
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
    await eventually(lambda: shown_matches(page, world.leader_api, scoped), timeout=5)
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


async def test_phone_and_requester_view(browser: Browser, world: World):
    # A leader's dashboard on a phone: nothing wider than the screen, the chart drawn.
    errors: list[str] = []
    page = await open_page(browser, world, world.leader, errors, width=390, height=844)
    await page.goto(f"{world.gateway}/#/dashboard?unit_id={world.unit_a['id']}")
    await expect(page.locator(".live")).to_have_attribute("data-live", "open")
    await expect(page.locator("[data-stat=created] .stat-value")).not_to_have_attribute(
        "data-value", ""
    )
    await expect(page.locator(".recap-item").first).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    box = await page.locator(".chart-box canvas").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    cards = await page.locator(".stat").all()
    assert len(cards) == 10
    for card in cards[:2]:
        card_box = await card.bounding_box()
        assert card_box and card_box["x"] >= 0 and card_box["x"] + card_box["width"] <= 390
    await page.screenshot(path=str(SCREENSHOTS / "dashboard-phone.png"), full_page=True)
    await page.context.close()

    # A requester: their own unit's figures, no unit filter, and another unit refused.
    page = await open_page(browser, world, world.requester, errors)
    await page.goto(f"{world.gateway}/#/dashboard")
    await expect(page.locator("h1")).to_contain_text(world.unit_a["name"])
    await eventually(lambda: shown_matches(page, world.requester_api, {}), timeout=10)
    mine = await world.requester_api.ok("GET", "/api/reports/summary")
    assert mine["filters"] == {"unit_id": world.unit_a["id"]}
    assert await stat(page, "created") == str(mine["figures"]["created"])
    await expect(page.locator("select[name=unit_id]")).to_have_count(0)
    await expect(page.locator("[data-breakdown=agent]")).to_have_count(0)

    await page.goto(f"{world.gateway}/#/dashboard?unit_id={world.unit_b['id']}")
    await expect(page.locator(".dash-problem .alert-error")).to_contain_text(
        "hanya dapat melihat laporan unit kerja Anda sendiri"
    )
    await expect(page.locator(".dash-figures")).to_be_hidden()
    await expect(page.locator(".stat")).to_have_count(0)
    assert errors == []
    await page.context.close()
