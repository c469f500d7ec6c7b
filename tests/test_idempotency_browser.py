"""Retry-safe writes end to end (Idempotency-Key, issue 12): through the gateway, and in the
web client, where a double click, a second submission of the same form while the first is
on its way, or a retry after the answer was lost never files a second ticket.

Screenshots land in /tmp/idempotency/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, Route, expect

from helpdesk_testing import LocalSystem
from helpdesk_testing.browser import Office, file_ticket, open_as, set_up_office

SHOTS = Path("/tmp/idempotency")  # noqa: S108 - screenshots for a person to look at
CREATE = "**/api/tickets/tickets"
TICKET_PAGE = re.compile(r"#/tickets/[0-9a-f-]{36}$")


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> Office:
    await asyncio.to_thread(SHOTS.mkdir, exist_ok=True)
    office = await set_up_office(
        system,
        http,
        unit_name="Dinas Klik Ganda",
        code_prefix="IDM",
        people={"requester": "requester"},
    )
    # The tickets service knows the unit and the requester once one ticket is accepted.
    await file_ticket(
        office.people["requester"],
        title=f"Pemanasan {office.tag}",
        description="Tiket pertama unit ini.",
        category_id=office.category_id,
    )
    return office


async def tickets_titled(office: Office, title: str) -> list[dict[str, Any]]:
    page = await office.people["requester"].ok(
        "GET", "/api/tickets/tickets", params={"q": title, "limit": 50}
    )
    return [t for t in page["items"] if t["title"] == title]


async def test_a_key_is_kept_through_the_gateway(office: Office):
    requester = office.people["requester"]
    title = f"Lewat gateway {uuid.uuid4().hex[:8]}"
    body = {"title": title, "description": "Dua kali dikirim.", "category_id": office.category_id}
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first, again = [
        await requester.call("POST", "/api/tickets/tickets", json=body, headers=headers)
        for _ in range(2)
    ]
    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert len(await tickets_titled(office, title)) == 1


async def test_racing_repeats_through_the_gateway_file_one_ticket(office: Office):
    """The local runner serves the tickets service from two processes (uvicorn workers):
    racing requests with one key land on either, and still file one ticket, one answer."""
    requester = office.people["requester"]
    for _ in range(3):
        title = f"Balapan {uuid.uuid4().hex[:8]}"
        body = {"title": title, "description": "Delapan kali.", "category_id": office.category_id}
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        answers = await asyncio.gather(
            *(
                requester.call("POST", "/api/tickets/tickets", json=body, headers=headers)
                for _ in range(8)
            )
        )
        assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
        assert len({a.content for a in answers}) == 1
        assert sum("idempotent-replayed" not in a.headers for a in answers) == 1
        assert len(await tickets_titled(office, title)) == 1


async def new_ticket_form(browser: Browser, office: Office, errors: list[str], title: str) -> Page:
    page = await open_as(browser, office, "requester", errors)
    await fill_new_ticket(page, office, title)
    return page


async def fill_new_ticket(page: Page, office: Office, title: str) -> None:
    await page.goto(f"{office.gateway}/#/new")
    await page.fill("input[name=title]", title)
    await page.fill("textarea[name=description]", "Tombol kirim ditekan dua kali.")
    await page.select_option("select[name=category_id]", office.category_id)


class Creates:
    """The create requests the page sends (their Idempotency-Key), passed on after
    ``delay`` seconds; ``lose_first``: the first one reaches the server, but its answer is
    lost on the way back (the browser sees a broken connection)."""

    def __init__(self, *, delay: float = 0.0, lose_first: bool = False) -> None:
        self.delay = delay
        self.lose_first = lose_first
        self.keys: list[str | None] = []

    async def handle(self, route: Route, request: Request) -> None:
        if request.method != "POST":
            await route.continue_()
            return
        headers = await request.all_headers()
        self.keys.append(headers.get("idempotency-key"))
        await asyncio.sleep(self.delay)
        if self.lose_first and len(self.keys) == 1:
            await route.fetch()  # the ticket is filed ...
            await route.abort("connectionreset")  # ... and the answer never arrives
            return
        await route.continue_()


async def test_a_double_click_on_create_files_one_ticket(browser: Browser, office: Office):
    errors: list[str] = []
    title = f"Klik ganda {uuid.uuid4().hex[:8]}"
    page = await new_ticket_form(browser, office, errors, title)
    creates = Creates(delay=0.5)
    await page.route(CREATE, creates.handle)
    await page.dblclick("form button[type=submit]")
    await expect(page).to_have_url(TICKET_PAGE, timeout=15_000)
    await page.screenshot(path=SHOTS / "double-click.png")
    assert len(await tickets_titled(office, title)) == 1
    assert creates.keys and all(creates.keys), creates.keys
    assert errors == []


async def test_a_second_submission_in_flight_files_one_ticket(browser: Browser, office: Office):
    """Both submissions reach the server (the button's disabling does not stop a form
    submitted otherwise, e.g. Enter twice): they carry one key, so one ticket is filed."""
    errors: list[str] = []
    title = f"Kirim dua kali {uuid.uuid4().hex[:8]}"
    page = await new_ticket_form(browser, office, errors, title)
    creates = Creates(delay=0.5)
    await page.route(CREATE, creates.handle)
    await page.evaluate(
        """() => {
          const form = document.querySelector("form.form-card");
          form.requestSubmit();
          form.requestSubmit();
        }"""
    )
    await expect(page).to_have_url(TICKET_PAGE, timeout=15_000)
    assert len(creates.keys) == 2
    assert creates.keys[0] and creates.keys[0] == creates.keys[1]
    assert len(await tickets_titled(office, title)) == 1
    assert errors == []


async def test_a_lost_answer_is_retried_with_its_key(browser: Browser, office: Office):
    errors: list[str] = []
    title = f"Jawaban hilang {uuid.uuid4().hex[:8]}"
    page = await new_ticket_form(browser, office, errors, title)
    creates = Creates(lose_first=True)
    await page.route(CREATE, creates.handle)
    await page.click("form button[type=submit]")
    await expect(page).to_have_url(TICKET_PAGE, timeout=15_000)
    await page.screenshot(path=SHOTS / "lost-answer.png")
    # The client sent it again by itself, with the same key: the first ticket, not a second.
    assert len(creates.keys) == 2
    assert creates.keys[0] and creates.keys[0] == creates.keys[1]
    (ticket,) = await tickets_titled(office, title)
    assert page.url.endswith(f"#/tickets/{ticket['id']}")
    assert errors == []


async def test_a_new_ticket_after_the_first_gets_a_new_key(browser: Browser, office: Office):
    """The same form content sent again after its answer came is a new action."""
    errors: list[str] = []
    title = f"Dua tiket sama {uuid.uuid4().hex[:8]}"
    creates = Creates()
    page = await open_as(browser, office, "requester", errors)
    await page.route(CREATE, creates.handle)
    for _ in range(2):
        await fill_new_ticket(page, office, title)
        await page.click("form button[type=submit]")
        await expect(page).to_have_url(TICKET_PAGE, timeout=15_000)
    assert len(creates.keys) == 2 and creates.keys[0] != creates.keys[1]
    assert len(await tickets_titled(office, title)) == 2
    assert errors == []
