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
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from helpdesk_testing import LocalSystem
from helpdesk_testing.browser import (
    DESKTOP,
    PHONE,
    Office,
    Viewport,
    file_ticket,
    open_as,
    set_up_office,
)

SHOTS = Path("/tmp/forms")  # noqa: S108 - screenshots for a person to look at
OFFICE_ZONE = ZoneInfo("Asia/Jakarta")

# Records every `invalid` event and, once the page's own listeners have seen it, whether it
# was default-prevented (a prevented `invalid` event shows no browser bubble).
RECORD_INVALID = """
window.__invalid = [];
document.addEventListener("invalid", (event) => {
  queueMicrotask(() => window.__invalid.push(
    { name: event.target.name, prevented: event.defaultPrevented }));
}, true);
"""


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> Office:
    """A unit, an administrator and a requester of the unit (own passwords set, so the
    client goes straight in)."""
    await asyncio.to_thread(SHOTS.mkdir, exist_ok=True)
    return await set_up_office(
        system,
        http,
        unit_name="Dinas Formulir",
        code_prefix="FRM",
        people={"admin": "admin", "requester": "requester"},
    )


@pytest.fixture(scope="module", autouse=True)
async def ticket(office: Office) -> dict:
    """One ticket of the requester's, filed before the module's first test (so the tickets
    service knows the unit and the requester by the time a form is sent)."""
    return await file_ticket(
        office.people["requester"],
        title=f"Jam kantor {office.tag}",
        description="Waktu tampil menurut zona kantor.",
        category_id=office.category_id,
    )


async def open_signed_in(
    browser: Browser,
    office: Office,
    kind: str,
    errors: list[str],
    *,
    timezone: str = "Asia/Jakarta",
    viewport: Viewport = DESKTOP,
) -> Page:
    """A fresh context in the given time zone, signed in through the form as the office's
    person of this kind; every `invalid` event is recorded (RECORD_INVALID)."""
    return await open_as(
        browser,
        office,
        kind,
        errors,
        timezone_id=timezone,
        locale="id-ID",
        init_script=RECORD_INVALID,
        **viewport,
    )


def error_under(scope: Page | Locator, name: str) -> Locator:
    """The error slot of the field named `name` (field(): label, control, hint, error)."""
    return scope.locator(f"[name='{name}'] ~ .field-error")


async def invalid_events(page: Page) -> list[dict]:
    return await page.evaluate("window.__invalid.splice(0)")


async def test_an_empty_new_ticket_says_under_each_field_what_is_missing(
    browser: Browser, office: Office
):
    errors: list[str] = []
    page = await open_signed_in(browser, office, "requester", errors)
    await page.goto(f"{office.gateway}/#/new")
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
    phone = await open_signed_in(browser, office, "requester", errors, viewport=PHONE)
    await phone.goto(f"{office.gateway}/#/new")
    form = phone.locator("form.form-card")
    await form.locator("[name=title]").fill("ab")
    await form.locator("button[type=submit]").click()
    await expect(error_under(form, "title")).to_have_text("Minimal 3 karakter (sekarang 2).")
    await expect(error_under(form, "description")).to_have_text("Wajib diisi.")
    await phone.screenshot(path=SHOTS / "newticket-errors-phone.png", full_page=True)
    await phone.context.close()
    assert errors == []


async def test_a_refused_user_keeps_what_was_typed_and_a_new_user_gets_the_right_title(
    browser: Browser, office: Office
):
    errors: list[str] = []
    page = await open_signed_in(browser, office, "admin", errors)
    await page.goto(f"{office.gateway}/#/admin/users")
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
    await dialog.locator("[name=username]").fill(office.usernames["requester"])
    await dialog.locator("[name=full_name]").fill("Petugas Baru")
    await dialog.locator("[name=email]").fill(f"baru{office.tag}@kominfo.go.id")
    await dialog.locator("[name=role]").select_option("agent")
    await dialog.locator("[name=password]").fill("")
    await dialog.locator("button[type=submit]").click()
    await expect(error_under(dialog, "username")).to_have_text("Nama pengguna sudah dipakai.")
    await expect(dialog.locator(".form-alert")).to_contain_text("Periksa kembali")
    await expect(dialog.locator("[name=username]")).to_have_value(office.usernames["requester"])
    await expect(dialog.locator("[name=full_name]")).to_have_value("Petugas Baru")
    await expect(dialog.locator("[name=email]")).to_have_value(f"baru{office.tag}@kominfo.go.id")
    await expect(dialog.locator("[name=role]")).to_have_value("agent")
    await page.screenshot(path=SHOTS / "user-refused-desktop.png")

    # Changing the field takes the server's message away; a free username creates the user
    # and the temporary password is shown under a title for a new user.
    await dialog.locator("[name=username]").fill(f"baru{office.tag}")
    await expect(error_under(dialog, "username")).to_be_hidden()
    await dialog.locator("button[type=submit]").click()
    shown = page.locator("dialog[open]", has=page.locator("code.secret"))
    await expect(shown.locator("h2")).to_have_text("Pengguna dibuat: kata sandi sementara")
    await expect(shown.locator("code.secret")).not_to_be_empty()
    await page.screenshot(path=SHOTS / "user-created-desktop.png")
    await shown.get_by_role("button", name="Tutup").click()

    # A reset keeps the reset title.
    row = page.locator("tr", has_text=f"baru{office.tag}")
    await row.get_by_role("button", name="Reset sandi").click()
    await page.locator("dialog[open] button[type=submit]").click()
    shown = page.locator("dialog[open]", has=page.locator("code.secret"))
    await expect(shown.locator("h2")).to_have_text("Atur ulang kata sandi")
    await expect(shown.locator("code.secret")).not_to_be_empty()
    await page.context.close()
    assert errors == []


async def test_a_refused_ticket_keeps_what_was_typed(browser: Browser, office: Office):
    """A value the client cannot know is wrong (a category deactivated after the form was
    drawn): the server's refusal is said under the category, the text stays."""
    admin = office.people["admin"]
    category = await admin.ok(
        "POST", "/api/tickets/categories", json={"name": f"Sementara {office.tag}"}
    )
    errors: list[str] = []
    page = await open_signed_in(browser, office, "requester", errors)
    await page.goto(f"{office.gateway}/#/new")
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


async def test_times_are_the_offices_named_wib_in_another_zone(
    browser: Browser, office: Office, ticket: dict
):
    created = datetime.fromisoformat(ticket["created_at"]).astimezone(OFFICE_ZONE)
    office_time = created.strftime("%H.%M")
    errors: list[str] = []

    # A browser in Berlin: the office's clock, named.
    page = await open_signed_in(browser, office, "requester", errors, timezone="Europe/Berlin")
    assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == (
        "Europe/Berlin"
    )
    await page.goto(f"{office.gateway}/#/tickets/{ticket['id']}")
    shown = page.locator(f"time[datetime='{ticket['created_at']}']").first
    await expect(shown).to_contain_text(f"{office_time} WIB")
    await page.screenshot(path=SHOTS / "ticket-berlin-desktop.png", full_page=True)
    await page.context.close()

    # A browser in the office's zone: the same time, no zone named.
    page = await open_signed_in(browser, office, "requester", errors)
    await page.goto(f"{office.gateway}/#/tickets/{ticket['id']}")
    shown = page.locator(f"time[datetime='{ticket['created_at']}']").first
    await expect(shown).to_contain_text(office_time)
    assert "WIB" not in (await shown.inner_text())
    await page.context.close()
    assert errors == []
