"""A ticket's files in a real browser (Debian's Chromium through Playwright) against the whole
system, the attachments service and clamd (EICAR-only signatures) included: a requester
files a ticket with a photo chosen in the form, sees it with its thumbnail and, once
scanned, downloads it; an executable named .pdf is refused by the service (415, its reason
on the page); a file over the limit is refused in the page without a request; an agent
sees the photo, uploads evidence (a PDF) of the kind "Bukti pekerjaan" and previews it,
sees the timeline's lines; a file with the EICAR test string is quarantined; the page on
a phone.

Screenshots land in the test's tmp dir (attachments-*.png) for a person to look at.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Unpack

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.async_api import Browser, Locator, Page, Request, expect

from helpdesk_testing import LocalSystem
from helpdesk_testing.browser import (
    PHONE,
    Office,
    SignInOptions,
    fits_phone,
    open_as,
    set_up_office,
)
from helpdesk_testing.clamd import EICAR

SCAN_TIMEOUT_MS = 30_000


@dataclass
class Filed:
    """The ticket the requester files in the first test (the later tests use it)."""

    id: str = ""
    number: str = ""


FILED = Filed()


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> Office:
    """A unit with a requester, and an agent (passwords set, e-mail addresses)."""
    return await set_up_office(
        system,
        http,
        unit_name="Dinas Lampiran",
        code_prefix="ATT",
        people={"agent": "agent", "requester": "requester"},
        emails=True,
    )


@pytest.fixture(scope="module")
async def policy(office: Office) -> dict:
    """The attachments service's policy (kinds, sizes) as the requester reads it."""
    return await office.people["requester"].ok("GET", "/api/attachments/policy")


async def open_page(
    browser: Browser, office: Office, kind: str, errors: list[str], **options: Unpack[SignInOptions]
) -> Page:
    """``open_as``, with Content Security Policy refusals (a blob: preview blocked) counted
    as errors too."""
    page = await open_as(browser, office, kind, errors, **options)
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    return page


def photo() -> bytes:
    """A photo-like PNG made here (a sky, a field and a sun): nothing private in it."""
    image = Image.new("RGB", (640, 480), (135, 190, 235))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 300, 640, 480), fill=(70, 140, 60))
    draw.ellipse((480, 40, 580, 140), fill=(250, 210, 60))
    draw.rectangle((120, 220, 300, 330), fill=(180, 60, 50))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def evidence_pdf() -> bytes:
    """A one-page PDF (Pillow writes it from an image)."""
    image = Image.new("RGB", (400, 300), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((40, 40, 360, 260), outline=(26, 95, 180), width=8)
    out = io.BytesIO()
    image.save(out, format="PDF")
    return out.getvalue()


def eicar_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zipped:
        zipped.writestr("eicar.com.txt", EICAR)
    return out.getvalue()


async def shot(page: Page, path: Path, *, full_page: bool = True) -> None:
    """A screenshot from the top of the page (the sticky header stays on top)."""
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(path), full_page=full_page)


def upload_requests(page: Page) -> list[str]:
    """The uploads the page sends from now on (POSTs to the attachments API)."""
    sent: list[str] = []

    def seen(request: Request) -> None:
        if request.method == "POST" and "/api/attachments/" in request.url:
            sent.append(request.url)

    page.on("request", seen)
    return sent


def item(page: Page, filename: str) -> Locator:
    """The listed file of that name."""
    return page.locator(".att-item", has=page.locator(".att-name", has_text=filename))


async def test_requester_files_a_ticket_with_a_photo(
    browser: Browser, office: Office, policy: dict, tmp_path: Path
):
    errors: list[str] = []
    page = await open_page(browser, office, "requester", errors)
    await page.goto(f"{office.gateway}/#/new")
    form = page.locator("form.form-card")
    await form.locator("input[name=title]").fill(f"Printer ruang rapat rusak {office.tag}")
    await form.locator("textarea[name=description]").fill("Kertas macet; foto terlampir.")
    await form.locator("select[name=category_id]").select_option(index=1)
    files = form.locator("input[name=files]")
    await expect(form.locator(".att-field .hint")).to_contain_text("maks. 10 MB per berkas")
    picture = tmp_path / "foto-printer.png"
    picture.write_bytes(photo())
    # A program named .png passes the page's checks (the name) but not the service's (the
    # content): the ticket is filed all the same, and its page says which file failed.
    program = tmp_path / "kamera.png"
    await asyncio.to_thread(shutil.copyfile, "/usr/bin/true", program)
    await files.set_input_files([str(picture), str(program)])
    await expect(form.locator(".att-chosen li")).to_have_count(2)
    await expect(form.locator(".att-chosen li").first).to_contain_text("foto-printer.png")
    await expect(form.locator(".att-field .field-error")).to_be_hidden()
    await shot(page, tmp_path / "attachments-new-ticket-desktop.png")
    await form.locator("button[type=submit]").click()

    await expect(page).to_have_url(re.compile(r"#/tickets/[0-9a-f-]{36}$"), timeout=20_000)
    FILED.id = page.url.rsplit("/", 1)[1]
    ticket = await office.people["requester"].ok("GET", f"/api/tickets/tickets/{FILED.id}")
    FILED.number = ticket["number"]
    section = page.locator("[data-section=attachments]")
    await expect(section.locator("h2")).to_have_text("Lampiran")
    left_over = section.locator(".att-failed")
    await expect(left_over).to_contain_text("gagal diunggah")
    await expect(left_over).to_contain_text("kamera.png")
    await expect(left_over).to_contain_text("Jenis berkas ini tidak diterima")
    await expect(left_over).not_to_contain_text("foto-printer.png")
    row = item(page, "foto-printer.png")
    await expect(row).to_have_count(1)
    await expect(row.locator(".att-kind")).to_have_text("Lampiran pendukung")
    await expect(row.locator(".att-type")).to_have_text("PNG")
    await expect(row.locator(".att-by")).to_contain_text(office.full_names["requester"])
    # Scanned by clamd (the page polls while the file is pending): clean, with its
    # thumbnail, and only then downloadable for a requester.
    await expect(row).to_have_attribute("data-scan", "clean", timeout=SCAN_TIMEOUT_MS)
    await expect(row.locator(".badge.scan-clean")).to_have_text("Bersih")
    thumb = row.locator("img.att-thumb-img")
    await expect(thumb).to_be_visible()
    assert await thumb.evaluate("img => img.src.startsWith('blob:') && img.naturalWidth > 0")
    async with page.expect_download(timeout=30_000) as info:
        await row.locator("[data-action=download]").click()
    done = await info.value
    assert done.suggested_filename == "foto-printer.png"
    saved = Path(await done.path())
    data = await asyncio.to_thread(saved.read_bytes)
    with Image.open(io.BytesIO(data)) as got, Image.open(io.BytesIO(photo())) as sent:
        assert got.size == (640, 480)
        assert got.convert("RGB").tobytes() == sent.convert("RGB").tobytes()
    # The timeline has the file's line (written by the tickets service from the event).
    added = page.locator(".tl-attachment_added", has_text="foto-printer.png")
    await expect(added).to_contain_text("melampirkan berkas", timeout=15_000)
    await expect(added).to_contain_text("Lampiran pendukung")

    # An executable named .pdf: refused by the service by its content (415); the page
    # says why, naming the type the service detected.
    fake = tmp_path / "laporan.pdf"
    await asyncio.to_thread(shutil.copyfile, "/usr/bin/true", fake)
    uploads = upload_requests(page)
    upload_input = section.locator(".att-upload input[type=file]")
    await upload_input.set_input_files(str(fake))
    failed = section.locator(".att-job[data-state=failed]")
    await expect(failed).to_contain_text("laporan.pdf")
    direct = await office.people["requester"].call(
        "POST",
        f"/api/attachments/tickets/{FILED.id}/attachments",
        files={"file": ("laporan.pdf", fake.read_bytes(), "application/pdf")},
    )
    assert direct.status_code == 415, direct.text
    detected = direct.json()["error"]["detected"]
    status = failed.locator(".att-job-status")
    await expect(status).to_contain_text("Jenis berkas ini tidak diterima")
    await expect(status).to_contain_text(detected)
    assert len(uploads) == 1
    await shot(page, tmp_path / "attachments-refused-desktop.png")

    # A file over the limit: refused before sending, under the control, no request.
    big = tmp_path / "pindaian-besar.pdf"
    with big.open("wb") as handle:
        handle.truncate(policy["max_file_bytes"] + 1)
    await upload_input.set_input_files(str(big))
    error = section.locator(".att-upload .field-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("pindaian-besar.pdf")
    await expect(error).to_contain_text("melebihi batas 10 MB per berkas")
    await expect(upload_input).to_have_attribute("aria-invalid", "true")
    await page.wait_for_timeout(500)
    assert len(uploads) == 1
    listed = await office.people["requester"].ok(
        "GET", f"/api/attachments/tickets/{FILED.id}/attachments"
    )
    assert [a["filename"] for a in listed["items"]] == ["foto-printer.png"]
    await shot(page, tmp_path / "attachments-requester-desktop.png")
    await page.context.close()
    assert errors == []


async def test_agent_uploads_evidence_and_sees_the_timeline(
    browser: Browser, office: Office, tmp_path: Path
):
    assert FILED.id, "the first test files the ticket"
    errors: list[str] = []
    page = await open_page(browser, office, "agent", errors)
    await page.goto(f"{office.gateway}/#/tickets/{FILED.id}")
    section = page.locator("[data-section=attachments]")
    photo_row = item(page, "foto-printer.png")
    await expect(photo_row).to_have_attribute("data-scan", "clean")
    await expect(photo_row.locator("[data-action=download]")).to_be_visible()
    await expect(photo_row.locator("img.att-thumb-img")).to_be_visible()
    # The requester's own file: an agent may not delete it.
    await expect(photo_row.locator("[data-action=delete]")).to_have_count(0)

    # The photo in the lightbox.
    await photo_row.locator("[data-action=preview]").click()
    dialog = page.locator("dialog.dialog-preview")
    await expect(dialog.locator("img.preview-img")).to_be_visible()
    assert await dialog.locator("img.preview-img").evaluate("img => img.naturalWidth") == 640
    await shot(page, tmp_path / "attachments-lightbox-desktop.png", full_page=False)
    await dialog.get_by_role("button", name="Tutup").click()
    await expect(dialog).to_have_count(0)

    # Evidence: the kind chosen, a PDF sent with its progress bar.
    kind = section.locator("select[name=kind]")
    await expect(kind.locator("option")).to_have_text(
        ["Lampiran pendukung", "Bukti pekerjaan", "Surat tugas"]
    )
    await kind.select_option(label="Bukti pekerjaan")
    pdf = tmp_path / "foto-perbaikan.pdf"
    pdf.write_bytes(evidence_pdf())
    await section.locator(".att-upload input[type=file]").set_input_files(str(pdf))
    row = item(page, "foto-perbaikan.pdf")
    await expect(row.locator(".att-kind")).to_have_text("Bukti pekerjaan")
    await expect(row.locator(".att-type")).to_have_text("PDF")
    await expect(row).to_have_attribute("data-scan", "clean", timeout=SCAN_TIMEOUT_MS)
    await expect(row.locator("[data-action=delete]")).to_be_visible()
    # Drawn again (a new file): the photo's thumbnail comes from the page's copy.
    await expect(photo_row.locator("img.att-thumb-img")).to_be_visible()
    await expect(photo_row.locator(".att-thumb-icon")).to_be_hidden()
    stored = await office.people["agent"].ok(
        "GET", f"/api/attachments/tickets/{FILED.id}/attachments"
    )
    assert {a["filename"]: a["kind"] for a in stored["items"]} == {
        "foto-printer.png": "supporting",
        "foto-perbaikan.pdf": "evidence",
    }
    line = page.locator(".tl-attachment_added", has_text="foto-perbaikan.pdf")
    await expect(line).to_contain_text("melampirkan berkas", timeout=15_000)
    await expect(line).to_contain_text("Bukti pekerjaan")
    await expect(line).to_contain_text(office.full_names["agent"])

    # The PDF previewed in the page, from a blob URL.
    await row.locator("[data-action=preview]").click()
    frame = dialog.locator("iframe.preview-pdf")
    await expect(frame).to_be_visible()
    assert (await frame.get_attribute("src") or "").startswith("blob:")
    await page.wait_for_timeout(1000)
    await shot(page, tmp_path / "attachments-pdf-preview-desktop.png", full_page=False)
    await dialog.get_by_role("button", name="Tutup").click()

    # The EICAR test file in a zip: stored, then quarantined by the scan; the agent sees the
    # scanner's finding, on the file and on the timeline.
    infected = tmp_path / "arsip-laporan.zip"
    infected.write_bytes(eicar_zip())
    await kind.select_option(label="Lampiran pendukung")
    await section.locator(".att-upload input[type=file]").set_input_files(str(infected))
    bad = item(page, "arsip-laporan.zip")
    await expect(bad).to_have_attribute("data-scan", "infected", timeout=SCAN_TIMEOUT_MS)
    await expect(bad.locator(".scan-infected")).to_have_text("Karantina — berisi malware")
    await expect(bad).to_contain_text("EICAR")
    await expect(bad.locator("[data-action=download]")).to_have_count(0)
    quarantined = page.locator(".tl-attachment_quarantined", has_text="arsip-laporan.zip")
    await expect(quarantined).to_contain_text("mengarantina lampiran", timeout=15_000)
    found = page.locator(".tl-attachment_malware_found", has_text="arsip-laporan.zip")
    await expect(found).to_contain_text("EICAR")
    await expect(found.locator(".badge-internal")).to_be_visible()
    await shot(page, tmp_path / "attachments-agent-desktop.png")
    await page.context.close()

    # The requester: the quarantine line, not the scanner's finding; the files on a phone.
    phone = await open_page(browser, office, "requester", errors, **PHONE)
    await phone.goto(f"{office.gateway}/#/tickets/{FILED.id}")
    await expect(item(phone, "foto-perbaikan.pdf")).to_have_attribute("data-scan", "clean")
    await expect(
        phone.locator(".tl-attachment_quarantined", has_text="arsip-laporan.zip")
    ).to_be_visible()
    await expect(phone.locator(".tl-attachment_malware_found")).to_have_count(0)
    await expect(item(phone, "arsip-laporan.zip")).not_to_contain_text("EICAR")
    await expect(item(phone, "foto-printer.png").locator("img.att-thumb-img")).to_be_visible()
    await fits_phone(phone)
    await phone.locator("[data-section=attachments]").scroll_into_view_if_needed()
    await phone.screenshot(path=str(tmp_path / "attachments-files-phone.png"))
    await shot(phone, tmp_path / "attachments-ticket-phone.png")
    await phone.context.close()
    assert errors == []


async def test_requester_deletes_their_file_and_the_timeline_says_so(
    browser: Browser, office: Office
):
    assert FILED.id, "the first test files the ticket"
    errors: list[str] = []
    page = await open_page(browser, office, "requester", errors)
    await page.goto(f"{office.gateway}/#/tickets/{FILED.id}")

    # In English: the same section, the files' words translated.
    await page.click(".lang-toggle")
    await expect(page.locator("[data-section=attachments] h2")).to_have_text("Attachments")
    evidence = item(page, "foto-perbaikan.pdf")
    await expect(evidence.locator(".att-kind")).to_have_text("Evidence of work")
    await expect(evidence.locator(".badge.scan-clean")).to_have_text("Clean")
    line = page.locator(".tl-attachment_added", has_text="foto-perbaikan.pdf")
    await expect(line).to_contain_text("attached a file")
    await page.click(".lang-toggle")
    await expect(page.locator("[data-section=attachments] h2")).to_have_text("Lampiran")

    row = item(page, "foto-printer.png")
    await row.locator("[data-action=delete]").click()
    dialog = page.locator("dialog")
    await expect(dialog).to_contain_text("foto-printer.png")
    await dialog.get_by_role("button", name="Hapus").click()
    await expect(row).to_have_count(0)
    listed = await office.people["requester"].ok(
        "GET", f"/api/attachments/tickets/{FILED.id}/attachments"
    )
    assert "foto-printer.png" not in [a["filename"] for a in listed["items"]]

    # The page polls for a while after a change (the timeline's line comes from an event);
    # leaving it stops that at once.
    polls: list[str] = []
    page.on(
        "request",
        lambda request: polls.append(request.url) if "/api/attachments/" in request.url else None,
    )
    await page.goto(f"{office.gateway}/#/tickets")
    await expect(page.locator(".tickets-table tbody tr")).to_have_count(1)
    polls.clear()
    await page.wait_for_timeout(4_000)
    assert polls == []

    await page.goto(f"{office.gateway}/#/tickets/{FILED.id}")
    removed = page.locator(".tl-attachment_removed", has_text="foto-printer.png")
    await expect(removed).to_contain_text("menghapus lampiran")
    await expect(removed).to_contain_text(office.full_names["requester"])
    await page.context.close()
    assert errors == []
