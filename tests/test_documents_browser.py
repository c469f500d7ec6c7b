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
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Download, Locator, Page, expect
from pypdf import PdfReader

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import SCREENSHOTS, Api, create_user, login, sign_in

PASSWORD = "rahasia-kuat-2"
PHONE = {"width": 390, "height": 844}
BOM = b"\xef\xbb\xbf"


@dataclass
class World:
    gateway: str
    tag: str
    unit: dict
    admin: Api
    agent: Api
    leader: Api
    requester: Api
    names: dict[str, str]  # kind -> username
    full_names: dict[str, str]
    resolved: dict
    open_ticket: dict
    organisation: str


@pytest.fixture(scope="module")
async def world(system: LocalSystem, http: httpx.AsyncClient) -> World:
    """A unit, an administrator, an agent, a leader and a requester of the unit (passwords
    set, e-mail addresses for the scheduled reports), and two tickets of the unit: one
    resolved, one open."""
    gateway = system.gateway_url
    root = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    unit = await root.ok(
        "POST",
        "/api/identity/units",
        json={"code": f"DOC{tag}".upper(), "name": f"Dinas Arsip {tag}"},
    )
    roles = {"admin": {}, "agent": {}, "leader": {}, "requester": {"unit_id": unit["id"]}}
    names, full_names, apis = {}, {}, {}
    for kind, extra in roles.items():
        names[kind] = f"doc{kind}{tag}"
        full_names[kind] = f"{kind.title()} Dokumen {tag}"
        apis[kind] = await create_user(
            root,
            names[kind],
            PASSWORD,
            full_name=full_names[kind],
            role=kind,
            email=f"{names[kind]}@example.go.id",
            **extra,
        )
    agent = apis["agent"]
    categories = await agent.ok("GET", "/api/tickets/categories")

    async def create(title: str) -> dict:
        # The tickets service learns new units from identity's events: retry until it knows.
        async def attempt() -> dict | None:
            response = await agent.call(
                "POST",
                "/api/tickets/tickets",
                json={
                    "title": f"{title} {tag}",
                    "description": "Mohon dibantu.",
                    "category_id": categories[0]["id"],
                    "unit_id": unit["id"],
                    "channel": "phone",
                    "contact_name": "Siti Aminah",
                    "contact_phone": "0812-3456-7890",
                },
            )
            return response.json() if response.status_code == 201 else None

        return await eventually(attempt, timeout=20, interval=0.2)

    resolved = await create("Printer ruang arsip macet")
    path = f"/api/tickets/tickets/{resolved['id']}"
    await agent.ok("POST", f"{path}/claim")
    resolved = await agent.ok(
        "POST", f"{path}/resolve", json={"result_summary": "Rol kertas dibersihkan."}
    )
    open_ticket = await create("Akun e-mail arsip terkunci")
    return World(
        gateway=gateway,
        tag=tag,
        unit=unit,
        admin=apis["admin"],
        agent=agent,
        leader=apis["leader"],
        requester=apis["requester"],
        names=names,
        full_names=full_names,
        resolved=resolved,
        open_ticket=open_ticket,
        organisation=f"DINAS KOMINFO UJI {tag.upper()}",
    )


async def open_as(
    browser: Browser, world: World, kind: str, errors: list[str], **viewport: int
) -> Page:
    return await sign_in(browser, world.gateway, world.names[kind], PASSWORD, errors, **viewport)


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


async def fits_phone(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def organisation_named(world: World) -> None:
    """The letterhead the later tests expect (set through the page by the first test; set
    here through the API when that test did not run)."""
    current = await world.admin.ok("GET", "/api/identity/organisation")
    if current["name"] != world.organisation:
        await world.admin.ok(
            "PUT",
            "/api/identity/organisation",
            json={"name": world.organisation, "parent_name": "PEMERINTAH KOTA UJI"},
        )


async def test_admin_sets_the_organisation_identity_with_a_logo(
    browser: Browser, world: World, tmp_path: Path
):
    errors: list[str] = []
    page = await open_as(browser, world, "admin", errors)
    await page.goto(f"{world.gateway}/#/admin/organisation")
    form = page.locator("form.org-form")
    await form.locator("input[name=parent_name]").fill("PEMERINTAH KOTA UJI")
    await form.locator("input[name=name]").fill(world.organisation)
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
    saved = await world.admin.ok("GET", "/api/identity/organisation")
    assert saved["name"] == world.organisation
    assert saved["website"] == "https://kominfo.example.go.id"
    await expect(page.locator("form.org-form input[name=name]")).to_have_value(world.organisation)

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
    assert (await world.admin.ok("GET", "/api/identity/organisation"))["has_logo"] is True
    await shot(page, "documents-organisation-desktop.png")

    # A file that is no image: refused under the file input, the old logo kept.
    text = tmp_path / "notes.txt"
    text.write_text("bukan gambar")
    await page.set_input_files("form.logo-form input[name=logo]", str(text))
    await page.click("form.logo-form button[type=submit]")
    await expect(page.locator("#org-logo-file-err")).to_contain_text("PNG, JPEG atau SVG")
    await expect(preview).to_be_visible()

    # The policy page of the same administrator: the roles as checkboxes, the log below.
    await page.goto(f"{world.gateway}/#/admin/exports")
    await expect(page.locator("input[name=contact_roles][value=admin]")).to_be_checked()
    await expect(page.locator(".export-log")).to_be_visible()
    await page.context.close()

    phone = await open_as(browser, world, "admin", errors, **PHONE)
    await phone.goto(f"{world.gateway}/#/admin/organisation")
    await expect(phone.locator(".logo-preview img")).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-organisation-phone.png")
    await phone.goto(f"{world.gateway}/#/admin/exports")
    await expect(phone.locator("form.policy-form")).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-exports-phone.png")
    await phone.context.close()
    assert errors == []


async def test_dashboard_downloads_the_full_report_and_a_sections_csv(
    browser: Browser, world: World
):
    await organisation_named(world)
    query = {"unit_id": world.unit["id"]}

    # The reports service learns the letterhead from identity's event: wait for it.
    async def letterhead_arrived() -> bool:
        response = await world.leader.call("GET", "/api/reports/export/summary.pdf", params=query)
        return response.status_code == 200 and world.organisation in pdf_text(response.content)

    await eventually(letterhead_arrived, timeout=20, interval=0.5)

    errors: list[str] = []
    page = await open_as(browser, world, "leader", errors)
    await page.goto(f"{world.gateway}/#/dashboard?unit_id={world.unit['id']}")
    await expect(page.locator("[data-stat=created] .stat-value")).not_to_have_attribute(
        "data-value", ""
    )
    full = page.locator("[data-export='full.pdf']")
    await expect(full).to_have_text("Unduh laporan lengkap (PDF)")
    name, data = await download(page, full)
    assert name.endswith(".pdf")
    text = pdf_text(data)
    assert world.organisation in text
    assert "Halaman 1 dari" in text

    # One section's CSV, with the filters on screen (unit): a row for the unit.
    section = page.locator("section.card", has=page.locator("[data-breakdown=unit]"))
    name, data = await download(page, section.locator("[data-export='breakdown.csv']"))
    assert name.endswith(".csv")
    rows = csv_rows(data)
    assert len(rows[0]) >= 3 and all(rows[0])
    assert any(world.unit["name"] in row for row in rows[1:]), rows
    await shot(page, "documents-dashboard-desktop.png")
    await page.context.close()

    phone = await open_as(browser, world, "leader", errors, **PHONE)
    await phone.goto(f"{world.gateway}/#/dashboard?unit_id={world.unit['id']}")
    await expect(phone.locator("[data-stat=created] .stat-value")).not_to_have_attribute(
        "data-value", ""
    )
    await expect(phone.locator("[data-export='full.pdf']")).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-dashboard-phone.png")
    await phone.context.close()
    assert errors == []


async def test_ticket_list_exports_the_chosen_columns(browser: Browser, world: World):
    columns = await world.admin.ok("GET", "/api/tickets/exports/columns", params={"lang": "id"})
    labels = {c["key"]: c["label"] for c in columns}
    chosen = ["number", "title", "status", "contact_phone"]

    errors: list[str] = []
    page = await open_as(browser, world, "admin", errors)
    await page.goto(f"{world.gateway}/#/tickets?unit_id={world.unit['id']}")
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
        [world.resolved["number"], world.open_ticket["number"]]
    )
    assert {row[3] for row in rows[1:]} == {"0812-3456-7890"}
    await expect(dialog).to_have_count(0)

    # The export is in the administrator's log.
    await page.goto(f"{world.gateway}/#/admin/exports")
    first = page.locator(".export-log-table tbody tr").first
    await expect(first).to_contain_text(world.full_names["admin"])
    await expect(first).to_contain_text(labels["contact_phone"])
    await expect(first).to_contain_text(world.unit["name"])
    await shot(page, "documents-exports-desktop.png")
    await page.context.close()
    assert errors == []


async def test_resolved_ticket_downloads_its_berita_acara(browser: Browser, world: World):
    errors: list[str] = []
    page = await open_as(browser, world, "agent", errors)
    await page.goto(f"{world.gateway}/#/tickets/{world.resolved['id']}")
    await expect(page.locator("[data-doc=submission-form]")).to_have_text("Formulir (PDF)")
    name, data = await download(page, page.locator("[data-doc=berita-acara]"))
    assert name.endswith(".pdf")
    text = pdf_text(data)
    assert world.resolved["number"] in text
    # The title is set in capitals: BERITA ACARA PENYELESAIAN PEKERJAAN.
    assert "Berita Acara".upper() in text
    name, data = await download(page, page.locator("[data-doc=submission-form]"))
    assert world.resolved["number"] in pdf_text(data)
    await shot(page, "documents-ticket-desktop.png")

    # An open ticket has its form only.
    await page.goto(f"{world.gateway}/#/tickets/{world.open_ticket['id']}")
    await expect(page.locator("[data-doc=submission-form]")).to_be_visible()
    await expect(page.locator("[data-doc=berita-acara]")).to_have_count(0)
    await page.context.close()

    phone = await open_as(browser, world, "agent", errors, **PHONE)
    await phone.goto(f"{world.gateway}/#/tickets/{world.resolved['id']}")
    await expect(phone.locator("[data-doc=berita-acara]")).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-ticket-phone.png", full_page=False)
    await phone.context.close()
    assert errors == []


async def test_leader_creates_a_scheduled_report(browser: Browser, world: World):
    # The reports service knows the leader (and their address) from identity's events.
    async def leader_known() -> bool:
        people = await world.leader.ok("GET", "/api/reports/schedules/recipients")
        return any(p["full_name"] == world.full_names["leader"] for p in people)

    await eventually(leader_known, timeout=20, interval=0.5)

    errors: list[str] = []
    page = await open_as(browser, world, "leader", errors)
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

    name = f"Laporan bulanan {world.tag}"
    await form.locator("input[name=name]").fill(name)
    await form.locator("select[name=report]").select_option("breakdown")
    await expect(form.locator("select[name='options.by']")).to_be_visible()
    await form.locator("select[name='options.by']").select_option("category")
    await form.locator("select[name='filters.unit_id']").select_option(world.unit["id"])
    await form.locator(".recipient-search").fill(world.full_names["leader"])
    await form.get_by_label(world.full_names["leader"]).check()
    await form.locator("button[type=submit]").click()

    await expect(page).to_have_url(re.compile(r"#/schedules$"))
    row = page.locator(".schedules-table tbody tr", has=page.get_by_text(name))
    await expect(row).to_contain_text("Rincian per dimensi")
    await expect(row).to_contain_text("Bulanan")
    await expect(row).to_contain_text("Aktif")
    saved = [
        s
        for s in (await world.leader.ok("GET", "/api/reports/schedules"))["items"]
        if s["name"] == name
    ]
    assert len(saved) == 1
    assert saved[0]["filters"]["unit_id"] == world.unit["id"]
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

    phone = await open_as(browser, world, "leader", errors, **PHONE)
    await phone.goto(f"{world.gateway}/#/schedules")
    await expect(phone.get_by_text(name)).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-schedules-phone.png")
    await phone.goto(f"{world.gateway}/#/schedules/new")
    await expect(phone.locator("form.schedule-form")).to_be_visible()
    await fits_phone(phone)
    await shot(phone, "documents-schedule-form-phone.png")
    await phone.context.close()
    assert errors == []


async def test_requester_sees_no_admin_pages_and_exports_their_tickets(
    browser: Browser, world: World
):
    errors: list[str] = []
    page = await open_as(browser, world, "requester", errors, **PHONE)
    await page.click(".menu-toggle")
    await expect(page.locator("nav a[data-section=tickets]")).to_be_visible()
    await expect(page.locator("nav a[data-section=admin]")).to_have_count(0)
    await expect(page.locator("nav a[data-section=schedules]")).to_have_count(0)
    for hidden in ("#/admin/organisation", "#/admin/exports", "#/schedules", "#/schedules/new"):
        await page.goto(f"{world.gateway}/{hidden}")
        await expect(page.locator("h1")).to_have_text("Anda tidak berhak membuka halaman ini.")

    await page.goto(f"{world.gateway}/#/tickets")
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
        for c in await world.requester.ok("GET", "/api/tickets/exports/columns")
        if not c["personal"]
    ]
    assert rows[0] == [c["label"] for c in allowed]
    assert len(rows) == 3
    await page.context.close()
    assert errors == []
