"""Forms in a real browser (Debian's Chromium through Playwright) against the whole system:
every form checks its fields itself and says what is wrong under each field in the user's
language (never the browser's English bubble), a refusal from the server keeps what was
typed and lands under the field it names, the new-user dialog is titled for a new user, and
times read in the office's zone (named "WIB" when the browser's clock is elsewhere).

Screenshots land in /tmp/forms/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import Api, create_user, login

PASSWORD = "rahasia-kuat-1"
SHOTS = Path("/tmp/forms")  # noqa: S108 - screenshots for a person to look at
OFFICE = ZoneInfo("Asia/Jakarta")

# Records every `invalid` event and, once the page's own listeners have seen it, whether it
# was default-prevented (a prevented `invalid` event shows no browser bubble).
RECORD_INVALID = """
window.__invalid = [];
document.addEventListener("invalid", (event) => {
  queueMicrotask(() => window.__invalid.push(
    { name: event.target.name, prevented: event.defaultPrevented }));
}, true);
"""


@dataclass
class World:
    gateway: str
    tag: str
    admin: str
    admin_api: Api
    requester: str
    requester_api: Api
    ticket: dict


@pytest.fixture(scope="module")
async def world(system: LocalSystem, http: httpx.AsyncClient) -> World:
    """A unit, an administrator and a requester of the unit (own passwords set, so the
    client goes straight in), and one ticket of the requester's."""
    await asyncio.to_thread(SHOTS.mkdir, exist_ok=True)
    gateway = system.gateway_url
    root = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    unit = await root.ok(
        "POST", "/api/identity/units", json={"code": f"FRM{tag}".upper(), "name": "Dinas Formulir"}
    )
    admin, requester = f"admin{tag}", f"pemohon{tag}"
    admin_api = await create_user(root, admin, PASSWORD, full_name=f"Admin {tag}", role="admin")
    requester_api = await create_user(
        root, requester, PASSWORD, full_name=f"Pemohon {tag}", role="requester", unit_id=unit["id"]
    )
    categories = await requester_api.ok("GET", "/api/tickets/categories")

    # The tickets service learns new units from identity's events: retry until it knows.
    async def create() -> dict | None:
        response = await requester_api.call(
            "POST",
            "/api/tickets/tickets",
            json={
                "title": f"Jam kantor {tag}",
                "description": "Waktu tampil menurut zona kantor.",
                "category_id": categories[0]["id"],
            },
        )
        return response.json() if response.status_code == 201 else None

    ticket = await eventually(create, timeout=20, interval=0.2)
    return World(gateway, tag, admin, admin_api, requester, requester_api, ticket)


async def open_signed_in(
    browser: Browser,
    world: World,
    username: str,
    password: str,
    errors: list[str],
    *,
    timezone: str = "Asia/Jakarta",
    width: int = 1366,
    height: int = 900,
) -> Page:
    """A fresh context in the given time zone, signed in through the form."""
    context = await browser.new_context(
        viewport={"width": width, "height": height}, timezone_id=timezone, locale="id-ID"
    )
    await context.add_init_script(RECORD_INVALID)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(10_000)
    await page.goto(f"{world.gateway}/#/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await expect(page).not_to_have_url(re.compile(r"#/login"))
    return page


def error_under(scope: Page | Locator, name: str) -> Locator:
    """The error slot of the field named `name` (field(): label, control, hint, error)."""
    return scope.locator(f"[name='{name}'] ~ .field-error")


async def invalid_events(page: Page) -> list[dict]:
    return await page.evaluate("window.__invalid.splice(0)")


async def test_an_empty_new_ticket_says_under_each_field_what_is_missing(
    browser: Browser, world: World
):
    errors: list[str] = []
    page = await open_signed_in(browser, world, world.requester, PASSWORD, errors)
    await page.goto(f"{world.gateway}/#/new")
    form = page.locator("form.form-card")
    await expect(form.locator("[name=title]")).to_be_visible()

    await form.locator("button[type=submit]").click()
    await expect(error_under(form, "title")).to_have_text("Wajib diisi.")
    await expect(error_under(form, "description")).to_have_text("Wajib diisi.")
    await expect(error_under(form, "category_id")).to_have_text("Pilih salah satu.")
    await expect(form.locator("[name=title]")).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("[name=title]")).to_be_focused()
    # No browser bubble: every `invalid` event was default-prevented by the client.
    seen = await invalid_events(page)
    assert {e["name"] for e in seen} >= {"title", "description", "category_id"}, seen
    assert all(e["prevented"] for e in seen), seen
    # Nothing was sent: still the form, no ticket.
    await expect(page).to_have_url(re.compile(r"#/new$"))

    # A field once marked is checked again as it is typed in: the length, with its limit.
    await form.locator("[name=title]").fill("ab")
    await expect(error_under(form, "title")).to_have_text("Minimal 3 karakter (sekarang 2).")
    # Spaces around do not count (the service strips them before it counts).
    await form.locator("[name=title]").fill("  a  ")
    await expect(error_under(form, "title")).to_have_text("Minimal 3 karakter (sekarang 1).")
    await form.locator("[name=title]").fill("Printer ruang TU")
    await expect(error_under(form, "title")).to_be_hidden()
    await expect(form.locator("[name=title]")).not_to_have_attribute("aria-invalid", "true")
    # A phone number the service would refuse, in words.
    await form.locator("[name=contact_phone]").fill("telp 12")
    await form.locator("button[type=submit]").click()
    await expect(error_under(form, "contact_phone")).to_contain_text("Nomor telepon")
    await page.screenshot(path=SHOTS / "newticket-errors-desktop.png", full_page=True)

    # In English after switching the language.
    await page.click(".lang-toggle")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    form = page.locator("form.form-card")
    await form.locator("button[type=submit]").click()
    await expect(error_under(form, "title")).to_have_text("Required.")
    await expect(error_under(form, "category_id")).to_have_text("Choose one.")
    await form.locator("[name=title]").fill("ab")
    await expect(error_under(form, "title")).to_have_text("At least 3 characters (now 2).")
    assert all(e["prevented"] for e in await invalid_events(page))
    await page.click(".lang-toggle")  # back to Indonesian for the other tests
    await expect(page.locator("html")).to_have_attribute("lang", "id")
    await page.context.close()

    # The same on a phone.
    phone = await open_signed_in(
        browser, world, world.requester, PASSWORD, errors, width=390, height=844
    )
    await phone.goto(f"{world.gateway}/#/new")
    form = phone.locator("form.form-card")
    await form.locator("[name=title]").fill("ab")
    await form.locator("button[type=submit]").click()
    await expect(error_under(form, "title")).to_have_text("Minimal 3 karakter (sekarang 2).")
    await expect(error_under(form, "description")).to_have_text("Wajib diisi.")
    await phone.screenshot(path=SHOTS / "newticket-errors-phone.png", full_page=True)
    await phone.context.close()
    assert errors == []


async def test_a_refused_user_keeps_what_was_typed_and_a_new_user_gets_the_right_title(
    browser: Browser, world: World
):
    errors: list[str] = []
    page = await open_signed_in(browser, world, world.admin, PASSWORD, errors)
    await page.goto(f"{world.gateway}/#/admin/users")
    await page.get_by_role("button", name="Tambah pengguna").click()
    dialog = page.locator("dialog[open]")
    await expect(dialog.locator("[name=username]")).to_be_focused()

    # The dialog checks its fields itself (novalidate: no bubbles), in Indonesian.
    await dialog.locator("[name=username]").fill("a b")
    await dialog.locator("[name=password]").fill("pendek")
    await dialog.locator("button[type=submit]").click()
    await expect(error_under(dialog, "username")).to_contain_text("Hanya huruf, angka")
    await expect(error_under(dialog, "full_name")).to_have_text("Wajib diisi.")
    await expect(error_under(dialog, "password")).to_have_text("Minimal 8 karakter (sekarang 6).")
    assert all(e["prevented"] for e in await invalid_events(page))

    # A username that is taken: only the server knows. Its refusal lands under the field and
    # everything typed stays.
    await dialog.locator("[name=username]").fill(world.requester)
    await dialog.locator("[name=full_name]").fill("Petugas Baru")
    await dialog.locator("[name=email]").fill(f"baru{world.tag}@kominfo.go.id")
    await dialog.locator("[name=role]").select_option("agent")
    await dialog.locator("[name=password]").fill("")
    await dialog.locator("button[type=submit]").click()
    await expect(error_under(dialog, "username")).to_have_text("Nama pengguna sudah dipakai.")
    await expect(dialog.locator(".form-alert")).to_contain_text("Periksa kembali")
    await expect(dialog.locator("[name=username]")).to_have_value(world.requester)
    await expect(dialog.locator("[name=full_name]")).to_have_value("Petugas Baru")
    await expect(dialog.locator("[name=email]")).to_have_value(f"baru{world.tag}@kominfo.go.id")
    await expect(dialog.locator("[name=role]")).to_have_value("agent")
    await page.screenshot(path=SHOTS / "user-refused-desktop.png")

    # Changing the field takes the server's message away; a free username creates the user
    # and the temporary password is shown under a title for a new user.
    await dialog.locator("[name=username]").fill(f"baru{world.tag}")
    await expect(error_under(dialog, "username")).to_be_hidden()
    await dialog.locator("button[type=submit]").click()
    shown = page.locator("dialog[open]", has=page.locator("code.secret"))
    await expect(shown.locator("h2")).to_have_text("Pengguna dibuat: kata sandi sementara")
    await expect(shown.locator("code.secret")).not_to_be_empty()
    await page.screenshot(path=SHOTS / "user-created-desktop.png")
    await shown.get_by_role("button", name="Tutup").click()

    # A reset keeps the reset title.
    row = page.locator("tr", has_text=f"baru{world.tag}")
    await row.get_by_role("button", name="Reset sandi").click()
    await page.locator("dialog[open] button[type=submit]").click()
    shown = page.locator("dialog[open]", has=page.locator("code.secret"))
    await expect(shown.locator("h2")).to_have_text("Atur ulang kata sandi")
    await expect(shown.locator("code.secret")).not_to_be_empty()
    await page.context.close()
    assert errors == []


async def test_a_refused_ticket_keeps_what_was_typed(browser: Browser, world: World):
    """A value the client cannot know is wrong (a category deactivated after the form was
    drawn): the server's refusal is said under the category, the text stays."""
    admin = world.admin_api
    category = await admin.ok(
        "POST", "/api/tickets/categories", json={"name": f"Sementara {world.tag}"}
    )
    errors: list[str] = []
    page = await open_signed_in(browser, world, world.requester, PASSWORD, errors)
    await page.goto(f"{world.gateway}/#/new")
    form = page.locator("form.form-card")
    await form.locator("[name=title]").fill("Jaringan lantai 3 putus")
    await form.locator("[name=description]").fill("Sejak pagi tidak ada koneksi.")
    await form.locator("[name=category_id]").select_option(category["id"])
    await admin.ok("DELETE", f"/api/tickets/categories/{category['id']}")

    await form.locator("button[type=submit]").click()
    await expect(error_under(form, "category_id")).to_have_text(
        "Kategori tidak dikenal atau nonaktif."
    )
    await expect(form.locator("[name=title]")).to_have_value("Jaringan lantai 3 putus")
    await expect(form.locator("[name=description]")).to_have_value("Sejak pagi tidak ada koneksi.")
    await expect(form.locator("[name=category_id]")).to_be_focused()
    await page.context.close()
    assert errors == []


async def test_times_are_the_offices_named_wib_in_another_zone(browser: Browser, world: World):
    ticket = world.ticket
    created = datetime.fromisoformat(ticket["created_at"]).astimezone(OFFICE)
    office_time = created.strftime("%H.%M")
    errors: list[str] = []

    # A browser in Berlin: the office's clock, named.
    page = await open_signed_in(
        browser, world, world.requester, PASSWORD, errors, timezone="Europe/Berlin"
    )
    assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == (
        "Europe/Berlin"
    )
    await page.goto(f"{world.gateway}/#/tickets/{ticket['id']}")
    shown = page.locator(f"time[datetime='{ticket['created_at']}']").first
    await expect(shown).to_contain_text(f"{office_time} WIB")
    await page.screenshot(path=SHOTS / "ticket-berlin-desktop.png", full_page=True)
    await page.context.close()

    # A browser in the office's zone: the same time, no zone named.
    page = await open_signed_in(browser, world, world.requester, PASSWORD, errors)
    await page.goto(f"{world.gateway}/#/tickets/{ticket['id']}")
    shown = page.locator(f"time[datetime='{ticket['created_at']}']").first
    await expect(shown).to_contain_text(office_time)
    assert "WIB" not in (await shown.inner_text())
    await page.context.close()
    assert errors == []
