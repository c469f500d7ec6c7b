"""The ticket list's deferred total in a real browser (Debian's Chromium through Playwright),
against a system of its own whose first pages never count (TICKETS_FIRST_PAGE_BUDGET_MS=0, as a
first page whose count ran out of its budget at a million tickets): the list shows its rows
with a quiet "menghitung…", then the total GET /tickets/count gives, and the total still
follows a ticket filed meanwhile.

The count's answer is held back in the browser (the server answers it, later) so that the
"counting" state can be seen; a screenshot lands in /tmp/queues/ (queues-counting.png).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Route, expect

from helpdesk_testing import LocalSystem, eventually, local_system
from helpdesk_testing.browser import Office, file_ticket, open_as, set_up_office

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path("/tmp/queues")  # noqa: S108 - screenshots for a person to look at
SHOTS.mkdir(exist_ok=True)


@pytest.fixture(scope="module")
async def system(
    tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> AsyncIterator[LocalSystem]:
    """This module's own system: the first page of every list defers its count."""
    async with local_system(
        root=ROOT,
        state_dir=tmp_path_factory.mktemp("count-system-state"),
        run_id=f"{run_id}cnt",
        extra_env={"TICKETS_FIRST_PAGE_BUDGET_MS": "0"},
    ) as started:
        yield started
    assert started.process.returncode == 0, "".join(started.output[-50:])


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> Office:
    return await set_up_office(
        system,
        http,
        unit_name="Dinas Hitung",
        code_prefix="H",
        people={"agent": "agent", "requester": "requester"},
    )


async def file_requesters_ticket(office: Office, title: str) -> dict:
    return await file_ticket(
        office.people["requester"],
        title=f"{title} {office.tag}",
        description="Mohon dibantu.",
        category_id=office.category_id,
    )


async def test_the_deferred_total_shows_counting_then_the_count(browser: Browser, office: Office):
    for n in range(2):
        await file_requesters_ticket(office, f"Printer rusak {n}")
    query = {"unit_id": office.unit["id"], "q": "printer"}
    agent = office.people["agent"]
    first = await agent.ok("GET", "/api/tickets/tickets", params=query)
    assert (first["total"], first["total_deferred"], len(first["items"])) == (None, True, 2)
    assert await agent.ok("GET", "/api/tickets/tickets/count", params=query) == {
        "total": 2,
        "total_exact": True,
    }

    errors: list[str] = []
    page = await open_as(browser, office, "agent", errors)
    release = asyncio.Event()
    asked: list[str] = []

    async def hold_back(route: Route) -> None:
        asked.append(route.request.url)
        await release.wait()
        await route.continue_()

    await page.route("**/api/tickets/tickets/count?**", hold_back)
    await page.goto(f"{office.gateway}/#/tickets?unit_id={office.unit['id']}&q=printer")
    rows = page.locator(".tickets-table tbody tr")
    await expect(rows).to_have_count(2)
    total = page.locator(".result-total")
    await expect(total).to_have_text("menghitung…")
    await expect(total).to_have_attribute("data-counting", "true")
    await page.screenshot(path=str(SHOTS / "queues-counting.png"))
    # Asked with the list's own filters. (Not necessarily the first count asked: on a
    # loaded machine the default list the page opened on may have deferred its total too.)
    unit_filter = f"unit_id={office.unit['id']}"
    await eventually(
        lambda: any("q=printer" in url and unit_filter in url for url in asked) or None,
        timeout=5,
    )
    release.set()
    await expect(total).to_have_text("2 tiket")
    await expect(total).to_have_attribute("data-counting", "false")

    # Live: a ticket filed now joins the rows, and the total follows (counted again).
    await page.wait_for_timeout(300)  # the stream's first "ready" settles
    await file_requesters_ticket(office, "Printer macet")
    await expect(rows).to_have_count(3)
    await expect(total).to_have_text("3 tiket")
    assert errors == []
