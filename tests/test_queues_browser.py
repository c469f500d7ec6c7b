"""The ticket list's queues in a real browser (Debian's Chromium through Playwright) against
the whole system: an agent sees the views with their counts as the API gives them, a ticket
a requester files appears in the agent's open list by itself (the live stream, no reload),
and a bulk action with one ticket failing reports each ticket's outcome; the page on a phone.

Screenshots land in /tmp/queues/ (queues-*.png) for a person to look at.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from helpdesk_testing import LocalSystem
from helpdesk_testing.browser import (
    PHONE,
    Office,
    file_ticket,
    open_as,
    set_up_office,
)

SHOTS = Path("/tmp/queues")  # noqa: S108 - screenshots for a person to look at
SHOTS.mkdir(exist_ok=True)


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> Office:
    """A unit with a requester, and two agents (passwords set)."""
    return await set_up_office(
        system,
        http,
        unit_name="Dinas Antrean",
        code_prefix="Q",
        people={"agent": "agent", "other": "agent", "requester": "requester"},
    )


async def file_requesters_ticket(office: Office, title: str) -> dict:
    """A ticket the requester files through the API, its title tagged."""
    return await file_ticket(
        office.people["requester"],
        title=f"{title} {office.tag}",
        description="Mohon dibantu.",
        category_id=office.category_id,
    )


def unit_list(office: Office, **query: str) -> str:
    params = "&".join(f"{k}={v}" for k, v in {"unit_id": office.unit["id"], **query}.items())
    return f"{office.gateway}/#/tickets?{params}"


async def test_agent_sees_view_counts_and_new_tickets_arrive_by_themselves(
    browser: Browser, office: Office
):
    held = [await file_requesters_ticket(office, f"Printer rusak {n}") for n in range(2)]
    for ticket in held:
        await office.people["agent"].ok("POST", f"/api/tickets/tickets/{ticket['id']}/claim")
    errors: list[str] = []
    page = await open_as(browser, office, "agent", errors)

    await page.goto(unit_list(office, status="open"))
    rows = page.locator(".tickets-table tbody tr")
    await expect(rows).to_have_count(2)
    # The views and their counts, as GET /views says (this agent holds two open tickets).
    views = {
        v["key"] or v["name"]: v
        for v in await office.people["agent"].ok("GET", "/api/tickets/views")
    }
    assert views["mine"]["count"] == 2
    await expect(page.locator("[data-view=mine] .view-count")).to_have_text("2")
    for key in ("all", "unassigned", "overdue", "waiting_requester"):
        await expect(page.locator(f"[data-view={key}]")).to_be_visible()
    await expect(page.locator(".result-total")).to_have_text("2 tiket")

    # A ticket filed now shows up in the open list without a reload, the rows kept.
    first_id = held[1]["id"]  # newest first
    await page.evaluate(
        "(id) => { document.querySelector(`tr[data-id='${id}']`).dataset.marker = 'kept';"
        " window.notReloaded = true; }",
        first_id,
    )
    await page.wait_for_timeout(300)  # the stream's first "ready" settles
    new = await file_requesters_ticket(office, "Jaringan putus")
    started = time.monotonic()
    await expect(page.locator(f"tr[data-id='{new['id']}']")).to_be_visible(timeout=2_000)
    arrived = time.monotonic() - started
    assert arrived < 2, arrived
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_have_attribute("data-id", new["id"])
    assert await page.evaluate("window.notReloaded === true")
    assert await page.get_attribute(f"tr[data-id='{first_id}']", "data-marker") == "kept"
    await expect(page.locator(".result-total")).to_have_text("3 tiket")
    await expect(page.locator(".live-cue")).to_have_text(re.compile(r"^Diperbarui \d\d[.:]\d\d$"))
    await page.screenshot(path=str(SHOTS / "queues-desktop.png"), full_page=True)

    # Saving the filters as a view: it joins the row with its count.
    await page.click("[data-action=save-view]")
    await page.fill("dialog input[name=name]", f"Unit {office.tag}")
    await page.click("dialog button[type=submit]")
    saved = page.locator(".view-tab.is-saved", has_text=f"Unit {office.tag}")
    await expect(saved.locator(".view-count")).to_have_text("3")
    await expect(saved).to_have_attribute("aria-current", "page")
    assert errors == []


async def test_bulk_close_reports_each_tickets_outcome_on_a_phone(browser: Browser, office: Office):
    done = await file_requesters_ticket(office, "Akun terkunci")
    path = f"/api/tickets/tickets/{done['id']}"
    await office.people["agent"].ok("POST", f"{path}/claim")
    await office.people["agent"].ok(
        "POST", f"{path}/resolve", json={"result_summary": "Akun dibuka."}
    )
    fresh = await file_requesters_ticket(office, "Monitor berkedip")
    errors: list[str] = []
    page = await open_as(browser, office, "agent", errors, **PHONE)

    await page.goto(unit_list(office, status="new,resolved"))
    await expect(page.locator(f"tr[data-id='{done['id']}']")).to_be_visible()
    await expect(page.locator(f"tr[data-id='{fresh['id']}']")).to_be_visible()
    bar = page.locator(".bulk-bar")
    await expect(bar).to_be_hidden()
    for ticket in (done, fresh):
        await page.check(f"tr[data-id='{ticket['id']}'] input.select-box")
    await expect(bar).to_be_visible()
    await expect(bar.locator(".bulk-count")).to_have_text("2 tiket dipilih")
    await page.screenshot(path=str(SHOTS / "queues-phone-selected.png"), full_page=False)

    await page.click("[data-action=bulk-close]")
    await page.fill("dialog textarea[name=reason]", "Dikonfirmasi lewat telepon")
    await page.click("dialog button[type=submit]")
    results = page.locator("dialog .bulk-result")
    await expect(results).to_have_count(2)
    await expect(page.locator("dialog h2")).to_have_text("Hasil aksi: 1 berhasil, 1 gagal")
    failed = page.locator(f"dialog .bulk-result[data-ticket='{fresh['id']}']")
    await expect(failed).to_have_attribute("data-ok", "false")
    await expect(failed).to_contain_text("Tindakan ini tidak dapat dilakukan pada status tiket")
    ok = page.locator(f"dialog .bulk-result[data-ticket='{done['id']}']")
    await expect(ok).to_contain_text("Status sekarang: Ditutup")
    await page.screenshot(path=str(SHOTS / "queues-phone-results.png"), full_page=False)
    await page.click("dialog .dialog-actions button")

    # The list follows: the closed ticket left this view (new or resolved), the other stayed.
    await expect(page.locator(f"tr[data-id='{done['id']}']")).to_have_count(0)
    await expect(page.locator(f"tr[data-id='{fresh['id']}']")).to_be_visible()
    await expect(bar).to_be_hidden()
    closed = await office.people["agent"].ok("GET", path)
    assert closed["status"] == "closed"
    timeline = await office.people["agent"].ok("GET", f"{path}/timeline")
    assert timeline[-1]["note"] == "Dikonfirmasi lewat telepon"
    assert errors == []


async def test_bulk_assign_from_the_bar(browser: Browser, office: Office):
    tickets = [await file_requesters_ticket(office, f"Telepon mati {n}") for n in range(2)]
    errors: list[str] = []
    page = await open_as(browser, office, "agent", errors)
    await page.goto(unit_list(office, assignee="none", status="open"))
    for ticket in tickets:
        await page.check(f"tr[data-id='{ticket['id']}'] input.select-box")
    await page.select_option(".bulk-bar select[name=assignee_id]", label=office.full_names["other"])
    await page.click("[data-action=bulk-assign]")
    await expect(page.locator("dialog h2")).to_have_text("Hasil aksi: semua 2 tiket berhasil")
    await page.click("dialog .dialog-actions button")
    for ticket in tickets:
        # Assigned now: gone from the unassigned list.
        await expect(page.locator(f"tr[data-id='{ticket['id']}']")).to_have_count(0)
        assigned = await office.people["agent"].ok("GET", f"/api/tickets/tickets/{ticket['id']}")
        assert assigned["assignee_name"] == office.full_names["other"]
    await page.screenshot(path=str(SHOTS / "queues-assign.png"), full_page=True)
    assert errors == []


async def test_an_empty_list_says_why(
    browser: Browser, office: Office, system: LocalSystem, http: httpx.AsyncClient
):
    errors: list[str] = []
    page = await open_as(browser, office, "agent", errors)
    await page.goto(unit_list(office, q=f"tidakada{office.tag}"))
    empty = page.locator(".empty-state")
    await expect(empty).to_contain_text("Tidak ada tiket yang cocok dengan saringan ini.")
    await expect(empty.locator("a[href='#/tickets']")).to_be_visible()

    # A requester whose unit has no tickets yet, no filter set: how to start.
    empty_office = await set_up_office(
        system, http, unit_name="Dinas Kosong", code_prefix="QE", people={"requester": "requester"}
    )
    newcomer = await open_as(browser, empty_office, "requester", errors, **PHONE)
    await newcomer.goto(f"{office.gateway}/#/tickets")
    empty = newcomer.locator(".empty-state")
    await expect(empty).to_contain_text("Belum ada tiket.")
    await expect(empty.locator("a[href='#/new']")).to_be_visible()
    await newcomer.screenshot(path=str(SHOTS / "queues-phone-empty.png"), full_page=False)
    assert errors == []
