"""The documents of issue 9 in a real browser (Debian's Chromium through Playwright) against
the whole system: the organisation's letterhead set by an administrator (with a logo), the
dashboard's PDF and CSV downloads, the ticket list's CSV export with chosen columns, a
ticket's berita acara, scheduled reports, and what a requester may (not) see.

Downloads are read back: PDFs with pypdf (their text), CSVs as bytes (BOM, header).
Screenshots land in /tmp (documents-*.png) for a person to look at.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Download, Locator, Page, expect
from pypdf import PdfReader

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import (
    PHONE,
    SCREENSHOTS,
    Office,
    file_ticket,
    fits_phone,
    open_as,
    set_up_office,
)

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Filed:
    """The unit's two tickets: one resolved, one open."""

    resolved: dict
    open_ticket: dict


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> Office:
    """A unit, an administrator, an agent, a leader and a requester of the unit (passwords
    set, e-mail addresses for the scheduled reports)."""
    return await set_up_office(
        system,
        http,
        unit_name="Dinas Arsip",
        code_prefix="DOC",
        people={"admin": "admin", "agent": "agent", "leader": "leader", "requester": "requester"},
        emails=True,
    )


@pytest.fixture(scope="module", autouse=True)
async def filed(office: Office) -> Filed:
    """Two tickets of the unit filed by the agent (by phone) before the module's first test,
    so that every service has them by the time a page shows them: one resolved, one open."""
    agent = office.people["agent"]

    async def create(title: str) -> dict:
        return await file_ticket(
            agent,
            title=f"{title} {office.tag}",
            description="Mohon dibantu.",
            category_id=office.category_id,
            unit_id=office.unit["id"],
            channel="phone",
            contact_name="Siti Aminah",
            contact_phone="0812-3456-7890",
        )

    resolved = await create("Printer ruang arsip macet")
    path = f"/api/tickets/tickets/{resolved['id']}"
    await agent.ok("POST", f"{path}/claim")
    resolved = await agent.ok(
        "POST", f"{path}/resolve", json={"result_summary": "Rol kertas dibersihkan."}
    )
    return Filed(resolved=resolved, open_ticket=await create("Akun e-mail arsip terkunci"))


def organisation_name(office: Office) -> str:
    """The name the first test gives the organisation (the documents' letterhead)."""
    return f"DINAS KOMINFO UJI {office.tag.upper()}"


async def download(page: Page, button: Locator) -> tuple[str, bytes]:
    """Click a download button; the file's suggested name and bytes."""
    async with page.expect_download(timeout=30_000) as info:
        await button.click()
    done: Download = await info.value
    path = await done.path()
    return done.suggested_filename, await asyncio.to_thread(Path(path).read_bytes)


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF"), data[:40]
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM), data[:20]
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"))))


def png(width: int = 48, height: int = 48) -> bytes:
    """A small real PNG (the service proves a logo by rendering it): a blue square."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    row = b"\x00" + b"\x1a\x5f\xb4" * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


async def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    """A screenshot in /tmp from the top of the page (the sticky header stays on top)."""
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


async def organisation_named(office: Office) -> None:
    """The letterhead the later tests expect (set through the page by the first test; set
    here through the API when that test did not run)."""
    organisation = organisation_name(office)
    current = await office.people["admin"].ok("GET", "/api/identity/organisation")
    if current["name"] != organisation:
        await office.people["admin"].ok(
            "PUT",
            "/api/identity/organisation",
            json={"name": organisation, "parent_name": "PEMERINTAH KOTA UJI"},
        )


async def test_admin_sets_the_organisation_identity_with_a_logo(
    browser: Browser, office: Office, tmp_path: Path
):
    organisation = organisation_name(office)
    errors: list[str] = []
    page = await open_as(browser, office, "admin", errors)
    await page.goto(f"{office.gateway}/#/admin/organisation")
    form = page.locator("form.org-form")
    await form.locator("input[name=parent_name]").fill("PEMERINTAH KOTA UJI")
    await form.locator("input[name=name]").fill(organisation)
    await form.locator("textarea[name=address]").fill("Jl. Istana No. 1, Kota Uji")
    await form.locator("input[name=phone]").fill("(0752) 123456")
    await form.locator("input[name=email]").fill("kominfo@example.go.id")
    # A web address without its scheme: the server's message under the field, in Indonesian.
    await form.locator("input[name=website]").fill("kominfo.example.go.id")
    await form.locator("button[type=submit]").click()
    website_error = form.locator("input[name=website] ~ .field-error")
    await expect(website_error).to_contain_text("Alamat web tidak valid")
    await form.locator("input[name=website]").fill("https://kominfo.example.go.id")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast").first).to_contain_text("Tersimpan")
    saved = await office.people["admin"].ok("GET", "/api/identity/organisation")
    assert saved["name"] == organisation
    assert saved["website"] == "https://kominfo.example.go.id"
    await expect(page.locator("form.org-form input[name=name]")).to_have_value(organisation)

    # The logo: a file chosen through the file input, uploaded, shown from the API.
    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    await page.set_input_files("form.logo-form input[name=logo]", str(logo))
    await page.click("form.logo-form button[type=submit]")
    preview = page.locator(".logo-preview img")
    await expect(preview).to_be_visible()
    await page.wait_for_function(
        "() => document.querySelector('.logo-preview img')?.naturalWidth === 48"
    )
    organisation_now = await office.people["admin"].ok("GET", "/api/identity/organisation")
    assert organisation_now["has_logo"] is True
    await shot(page, "documents-organisation-desktop.png")

    # A file that is no image: refused under the file input, the old logo kept.
    text = tmp_path / "notes.txt"
    text.write_text("bukan gambar")
    await page.set_input_files("form.logo-form input[name=logo]", str(text))
    await page.click("form.logo-form button[type=submit]")
    await expect(page.locator("#org-logo-file-err")).to_contain_text("PNG, JPEG atau SVG")
    await expect(preview).to_be_visible()

    # The policy page of the same administrator: the roles as checkboxes, the log below.
    await page.goto(f"{office.gateway}/#/admin/exports")
    await expect(page.locator("input[name=contact_roles][value=admin]")).to_be_checked()
    await expect(page.locator(".export-log")).to_be_visible()
    await page.context.close()

    phone = await open_as(browser, office, "admin", errors, **PHONE)
    await phone.goto(f"{office.gateway}/#/admin/organisation")
    await expect(phone.locator(".logo-preview img")).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-organisation-phone.png")
    await phone.goto(f"{office.gateway}/#/admin/exports")
    await expect(phone.locator("form.policy-form")).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-exports-phone.png")
    await phone.context.close()
    assert errors == []


async def test_dashboard_downloads_the_full_report_and_a_sections_csv(
    browser: Browser, office: Office
):
    await organisation_named(office)
    organisation = organisation_name(office)
    query = {"unit_id": office.unit["id"]}

    # The reports service learns the letterhead from identity's event: wait for it.
    async def letterhead_arrived() -> bool:
        response = await office.people["leader"].call(
            "GET", "/api/reports/export/summary.pdf", params=query
        )
        return response.status_code == 200 and organisation in pdf_text(response.content)

    await eventually(letterhead_arrived, timeout=20, interval=0.5)

    errors: list[str] = []
    page = await open_as(browser, office, "leader", errors)
    await page.goto(f"{office.gateway}/#/dashboard?unit_id={office.unit['id']}")
    await expect(page.locator("[data-stat=created] .stat-value")).not_to_have_attribute(
        "data-value", ""
    )
    full = page.locator("[data-export='full.pdf']")
    await expect(full).to_have_text("Unduh laporan lengkap (PDF)")
    name, data = await download(page, full)
    assert name.endswith(".pdf")
    text = pdf_text(data)
    assert organisation in text
    assert "Halaman 1 dari" in text

    # One section's CSV, with the filters on screen (unit): a row for the unit.
    section = page.locator("section.card", has=page.locator("[data-breakdown=unit]"))
    name, data = await download(page, section.locator("[data-export='breakdown.csv']"))
    assert name.endswith(".csv")
    rows = csv_rows(data)
    assert len(rows[0]) >= 3 and all(rows[0])
    assert any(office.unit["name"] in row for row in rows[1:]), rows
    await shot(page, "documents-dashboard-desktop.png")
    await page.context.close()

    phone = await open_as(browser, office, "leader", errors, **PHONE)
    await phone.goto(f"{office.gateway}/#/dashboard?unit_id={office.unit['id']}")
    await expect(phone.locator("[data-stat=created] .stat-value")).not_to_have_attribute(
        "data-value", ""
    )
    await expect(phone.locator("[data-export='full.pdf']")).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-dashboard-phone.png")
    await phone.context.close()
    assert errors == []


async def test_ticket_list_exports_the_chosen_columns(
    browser: Browser, office: Office, filed: Filed
):
    columns = await office.people["admin"].ok(
        "GET", "/api/tickets/exports/columns", params={"lang": "id"}
    )
    labels = {c["key"]: c["label"] for c in columns}
    chosen = ["number", "title", "status", "contact_phone"]

    errors: list[str] = []
    page = await open_as(browser, office, "admin", errors)
    await page.goto(f"{office.gateway}/#/tickets?unit_id={office.unit['id']}")
    await expect(page.locator(".tickets-table tbody tr")).to_have_count(2)
    await page.click("[data-action=export-csv]")
    dialog = page.locator("dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Kosongkan").click()
    for key in chosen:
        await dialog.locator(f"input[name=columns][value={key}]").check()
    await shot(page, "documents-export-dialog-desktop.png", full_page=False)
    name, data = await download(page, dialog.locator("button[type=submit]"))
    assert name.endswith(".csv")
    rows = csv_rows(data)
    assert rows[0] == [labels[key] for key in chosen]
    # The list's filter (the unit) went with it: its two tickets, contact phones included.
    assert sorted(row[0] for row in rows[1:]) == sorted(
        [filed.resolved["number"], filed.open_ticket["number"]]
    )
    assert {row[3] for row in rows[1:]} == {"0812-3456-7890"}
    await expect(dialog).to_have_count(0)

    # The export is in the administrator's log.
    await page.goto(f"{office.gateway}/#/admin/exports")
    first = page.locator(".export-log-table tbody tr").first
    await expect(first).to_contain_text(office.full_names["admin"])
    await expect(first).to_contain_text(labels["contact_phone"])
    await expect(first).to_contain_text(office.unit["name"])
    await shot(page, "documents-exports-desktop.png")
    await page.context.close()
    assert errors == []


async def test_resolved_ticket_downloads_its_berita_acara(
    browser: Browser, office: Office, filed: Filed
):
    errors: list[str] = []
    page = await open_as(browser, office, "agent", errors)
    await page.goto(f"{office.gateway}/#/tickets/{filed.resolved['id']}")
    await expect(page.locator("[data-doc=submission-form]")).to_have_text("Formulir (PDF)")
    name, data = await download(page, page.locator("[data-doc=berita-acara]"))
    assert name.endswith(".pdf")
    text = pdf_text(data)
    assert filed.resolved["number"] in text
    # The title is set in capitals: BERITA ACARA PENYELESAIAN PEKERJAAN.
    assert "Berita Acara".upper() in text
    name, data = await download(page, page.locator("[data-doc=submission-form]"))
    assert filed.resolved["number"] in pdf_text(data)
    await shot(page, "documents-ticket-desktop.png")

    # An open ticket has its form only.
    await page.goto(f"{office.gateway}/#/tickets/{filed.open_ticket['id']}")
    await expect(page.locator("[data-doc=submission-form]")).to_be_visible()
    await expect(page.locator("[data-doc=berita-acara]")).to_have_count(0)
    await page.context.close()

    phone = await open_as(browser, office, "agent", errors, **PHONE)
    await phone.goto(f"{office.gateway}/#/tickets/{filed.resolved['id']}")
    await expect(phone.locator("[data-doc=berita-acara]")).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-ticket-phone.png", full_page=False)
    await phone.context.close()
    assert errors == []


async def test_leader_creates_a_scheduled_report(browser: Browser, office: Office):
    # The reports service knows the leader (and their address) from identity's events.
    async def leader_known() -> bool:
        people = await office.people["leader"].ok("GET", "/api/reports/schedules/recipients")
        return any(p["full_name"] == office.full_names["leader"] for p in people)

    await eventually(leader_known, timeout=20, interval=0.5)

    errors: list[str] = []
    page = await open_as(browser, office, "leader", errors)
    await expect(page.locator("nav a[data-section=schedules]")).to_be_visible()
    await expect(page.locator("nav a[data-section=admin]")).to_have_count(0)
    await page.click("nav a[data-section=schedules]")
    await page.click("[data-action=new-schedule]")
    form = page.locator("form.schedule-form")
    await expect(form).to_be_visible()

    # An empty form: the messages under the fields.
    for box in await form.locator("input[name=recipient_ids]:checked").all():
        await box.uncheck()
    await form.locator("button[type=submit]").click()
    await expect(form.locator("input[name=name] ~ .field-error")).to_have_text("Wajib diisi.")
    await expect(form.locator(".recipients .field-error")).to_have_text(
        "Pilih minimal satu penerima."
    )
    await expect(form.locator(".form-alert .alert-error")).to_be_visible()
    await shot(page, "documents-schedule-form-desktop.png")

    name = f"Laporan bulanan {office.tag}"
    await form.locator("input[name=name]").fill(name)
    await form.locator("select[name=report]").select_option("breakdown")
    await expect(form.locator("select[name='options.by']")).to_be_visible()
    await form.locator("select[name='options.by']").select_option("category")
    await form.locator("select[name='filters.unit_id']").select_option(office.unit["id"])
    await form.locator(".recipient-search").fill(office.full_names["leader"])
    await form.get_by_label(office.full_names["leader"]).check()
    await form.locator("button[type=submit]").click()

    await expect(page).to_have_url(re.compile(r"#/schedules$"))
    row = page.locator(".schedules-table tbody tr", has=page.get_by_text(name))
    await expect(row).to_contain_text("Rincian per dimensi")
    await expect(row).to_contain_text("Bulanan")
    await expect(row).to_contain_text("Aktif")
    saved = [
        s
        for s in (await office.people["leader"].ok("GET", "/api/reports/schedules"))["items"]
        if s["name"] == name
    ]
    assert len(saved) == 1
    assert saved[0]["filters"]["unit_id"] == office.unit["id"]
    assert saved[0]["options"]["by"] == "category"
    await shot(page, "documents-schedules-desktop.png")

    # Disabled from the list, then its page with the (empty) run history.
    await row.get_by_role("button", name="Nonaktifkan").click()
    await expect(row).to_contain_text("Nonaktif")
    await row.locator("a.schedule-name").click()
    await expect(page.locator(".schedule-runs")).to_contain_text("Belum pernah dikirim.")
    await expect(page.locator("form.schedule-form input[name=is_active]")).not_to_be_checked()
    await shot(page, "documents-schedule-edit-desktop.png")
    await page.context.close()

    phone = await open_as(browser, office, "leader", errors, **PHONE)
    await phone.goto(f"{office.gateway}/#/schedules")
    await expect(phone.get_by_text(name)).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-schedules-phone.png")
    await phone.goto(f"{office.gateway}/#/schedules/new")
    await expect(phone.locator("form.schedule-form")).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-schedule-form-phone.png")
    await phone.context.close()
    assert errors == []


async def test_requester_sees_no_admin_pages_and_exports_their_tickets(
    browser: Browser, office: Office
):
    errors: list[str] = []
    page = await open_as(browser, office, "requester", errors, **PHONE)
    await page.click(".menu-toggle")
    await expect(page.locator("nav a[data-section=tickets]")).to_be_visible()
    await expect(page.locator("nav a[data-section=admin]")).to_have_count(0)
    await expect(page.locator("nav a[data-section=schedules]")).to_have_count(0)
    for hidden in ("#/admin/organisation", "#/admin/exports", "#/schedules", "#/schedules/new"):
        await page.goto(f"{office.gateway}/{hidden}")
        await expect(page.locator("h1")).to_have_text("Anda tidak berhak membuka halaman ini.")

    await page.goto(f"{office.gateway}/#/tickets")
    await expect(page.locator(".tickets-table tbody tr")).to_have_count(2)
    await page.click("[data-action=export-csv]")
    dialog = page.locator("dialog")
    # Personal data is the administrators' by the default policy: shown, not choosable.
    phone_box = dialog.locator("input[name=columns][value=contact_phone]")
    await expect(phone_box).to_be_disabled()
    await expect(dialog).to_contain_text(
        "Data pribadi (PDP): hanya untuk peran yang diizinkan kebijakan"
    )
    await fits_phone(page)
    await shot(page, "documents-export-dialog-phone.png", full_page=False)
    name, data = await download(page, dialog.locator("button[type=submit]"))
    assert name.endswith(".csv")
    rows = csv_rows(data)
    allowed = [
        c
        for c in await office.people["requester"].ok("GET", "/api/tickets/exports/columns")
        if not c["personal"]
    ]
    assert rows[0] == [c["label"] for c in allowed]
    assert len(rows) == 3
    await page.context.close()
    assert errors == []
