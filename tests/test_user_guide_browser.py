"""The user guide's steps (docs/guide/), clicked through the web client in a real browser
(Debian's Chromium through Playwright) against the whole system, each asserting what the
guide says happens and leaving the screenshot the guide shows:

1. the administrator adds a work unit and a requester of it, and looks over the master data
   (categories, priorities and SLA, office hours) and the mailboxes;
2. the requester signs in with the temporary password, sets their own, files a ticket with
   a photo attached and finds it in their unit's list;
3. the agent finds it among the unassigned tickets, accepts it (verification), and asks the
   requester a question (pending: the SLA clock stops);
4. the requester answers and resumes the ticket;
5. the agent writes an internal note and resolves the ticket with a result summary;
6. the requester confirms the resolution (closed);
7. the leader reads the dashboard, downloads the full report and the ticket's berita acara.

The tests run in this order and share the story (the SOP's life of a request). The
screenshots go to a temporary folder, or with ``HELPDESK_GUIDE_SCREENSHOTS=docs/guide/img``
(a path under the repository, or an absolute one) into the guide's own folder:
``scripts/guide-screenshots`` does that. The last test checks that every image the guides
show is one this run took, and that every one it took is shown, so that guide and test
cannot drift apart.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.async_api import Browser, Locator, Page, expect

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import PASSWORD, Api, create_user, login, sign_in

ROOT = Path(__file__).resolve().parents[1]
GUIDES = [ROOT / "docs" / "guide" / "README.md", ROOT / "docs" / "guide" / "user-guide.en.md"]
IMAGE_REFERENCE = re.compile(r"\]\(img/([a-z0-9-]+\.png)\)")
TICKET_PAGE = re.compile(r"#/tickets/([0-9a-f-]{36})$")
# The guide's window: a laptop's, small enough for modest images.
WIDTH, HEIGHT = 1280, 800

UNIT_CODE, UNIT_NAME = "DISHUB", "Dinas Perhubungan"
REQUESTER, REQUESTER_NAME = "siti.rahmawati", "Siti Rahmawati"
REQUESTER_EMAIL = "siti.rahmawati@dishub.bukittinggikota.go.id"
REQUESTER_PASSWORD = "Pemohon-kuat-2026"  # a throwaway test system's password
AGENT, AGENT_NAME = "budi.santoso", "Budi Santoso"
LEADER, LEADER_NAME = "rina.kurnia", "Rina Kurnia"
TITLE = "Printer ruang pelayanan tidak bisa mencetak"
DESCRIPTION = (
    "Sejak pagi printer di loket pelayanan berkedip merah dan kertas tidak keluar. "
    "Sudah dimatikan dan dinyalakan kembali, masih sama. Foto panel terlampir."
)
QUESTION = "Mohon kirim merek dan tipe printer (tertera di stiker belakang)."
ANSWER = "Merek Epson L3210, stiker inventaris DISHUB-PRN-07."
INTERNAL_NOTE = "Tinta hitam habis dan bantalan tinta penuh; ambil cadangan dari gudang."
RESULT = "Bantalan tinta diganti dan tinta diisi ulang; printer diuji mencetak 5 halaman normal."


@dataclass
class Story:
    """What the steps hand on to each other, and the screenshots taken so far."""

    gateway: str
    admin_password: str
    admin: Api
    shots: Path
    taken: set[str] = field(default_factory=set)
    temporary_password: str = ""
    unit_id: str = ""
    ticket: dict[str, Any] = field(default_factory=dict)


def screenshot_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HELPDESK_GUIDE_SCREENSHOTS (relative to the repository) or a temporary folder."""
    chosen = os.environ.get("HELPDESK_GUIDE_SCREENSHOTS")
    if not chosen:
        return tmp_path_factory.mktemp("guide-screenshots")
    folder = Path(chosen) if Path(chosen).is_absolute() else ROOT / chosen
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
async def story(
    system: LocalSystem, http: httpx.AsyncClient, tmp_path_factory: pytest.TempPathFactory
) -> Story:
    """The agent and the leader, made through the API (the administrator's chapter shows
    making a user on the page once, for the requester)."""
    admin = await login(http, system.gateway_url, "admin", system.admin_password)
    await create_user(admin, AGENT, PASSWORD, full_name=AGENT_NAME, role="agent")
    await create_user(admin, LEADER, PASSWORD, full_name=LEADER_NAME, role="leader")
    return Story(
        gateway=system.gateway_url,
        admin_password=system.admin_password,
        admin=admin,
        shots=screenshot_folder(tmp_path_factory),
    )


async def shot(
    story: Story, page: Page, name: str, *, show: Locator | None = None, calm: bool = False
) -> None:
    """The window as the user sees it (not the whole page), scrolled to ``show`` if given,
    saved as a PNG of at most 256 colours (a tenth of the size, as sharp for a page).
    ``calm``: the notices of earlier steps (toasts, gone after 4 s) are removed first, so
    that the picture shows this step only."""
    if calm:
        await page.evaluate("document.querySelectorAll('#toasts .toast').forEach(t => t.remove())")
    if show is None:
        await page.evaluate("window.scrollTo(0, 0)")
    else:
        await show.scroll_into_view_if_needed()
    raw = await page.screenshot()
    path = story.shots / f"{name}.png"
    await asyncio.to_thread(save_small_png, raw, path)
    story.taken.add(path.name)


def save_small_png(raw: bytes, path: Path) -> None:
    with Image.open(io.BytesIO(raw)) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
        small.save(path, format="PNG", optimize=True)


@pytest.fixture
async def errors() -> AsyncIterator[list[str]]:
    """Uncaught script errors of the test's pages: none allowed."""
    seen: list[str] = []
    yield seen
    assert seen == []


async def open_as(browser: Browser, story: Story, username: str, errors: list[str]) -> Page:
    return await sign_in(
        browser,
        story.gateway,
        username,
        story.admin_password if username == "admin" else PASSWORD,
        errors,
        timezone_id="Asia/Jakarta",
        locale="id-ID",
        width=WIDTH,
        height=HEIGHT,
    )


def menu(page: Page, name: str) -> Locator:
    """A link of the main navigation (the header's menu)."""
    main = page.get_by_role("navigation", name="Navigasi utama")
    return main.get_by_role("link", name=name, exact=True)


async def listed(page: Page, key: str) -> Locator:
    """The admin list's row of this code or username, found with the list's search (it is
    ordered by name, 25 to a page: a shared system may list many before it)."""
    await page.locator("form input[name=q]").fill(key)
    await page.get_by_role("button", name="Cari", exact=True).click()
    return page.locator("tbody tr").filter(has=page.get_by_role("cell", name=key, exact=True))


def dialog(page: Page) -> Locator:
    return page.locator("dialog[open]")


def status_badge(page: Page) -> Locator:
    return page.locator(".ticket-head .badge").first


async def open_ticket(page: Page, story: Story) -> None:
    await page.goto(f"{story.gateway}/#/tickets/{story.ticket['id']}")
    await expect(page.locator("h1")).to_have_text(TITLE)


async def action_dialog(page: Page, action: str, **fields: str) -> None:
    """Clicks a ticket's action button and fills its dialog (not sent yet)."""
    await page.locator(f".ticket-actions [data-action={action}]").click()
    await expect(dialog(page)).to_be_visible()
    for name, value in fields.items():
        await dialog(page).locator(f"[name={name}]").fill(value)


async def send_dialog(page: Page) -> None:
    await dialog(page).locator("button[type=submit]").click()
    await expect(dialog(page)).to_have_count(0)


async def test_administrator_adds_a_unit_and_a_requester_and_checks_master_data(
    browser: Browser, story: Story, errors: list[str]
) -> None:
    page = await open_as(browser, story, "admin", errors)
    await page.goto(f"{story.gateway}/#/admin/units")
    await page.get_by_role("button", name="Tambah unit").click()
    await dialog(page).locator("[name=code]").fill(UNIT_CODE)
    await dialog(page).locator("[name=name]").fill(UNIT_NAME)
    await shot(story, page, "admin-unit-baru")
    await send_dialog(page)
    await expect(await listed(page, UNIT_CODE)).to_contain_text(UNIT_NAME)

    await page.goto(f"{story.gateway}/#/admin/users")
    await page.get_by_role("button", name="Tambah pengguna").click()
    form = dialog(page)
    await form.locator("[name=username]").fill(REQUESTER)
    await form.locator("[name=full_name]").fill(REQUESTER_NAME)
    await form.locator("[name=email]").fill(REQUESTER_EMAIL)
    await form.locator("select[name=role]").select_option("requester")
    await form.locator("select[name=unit_id]").select_option(label=f"{UNIT_NAME} ({UNIT_CODE})")
    await shot(story, page, "admin-pengguna-baru")
    await form.locator("button[type=submit]").click()
    secret = dialog(page).locator("code.secret")
    await expect(secret).to_be_visible()
    await expect(dialog(page)).to_contain_text("hanya ditampilkan sekali")
    story.temporary_password = (await secret.inner_text()).strip()
    await shot(story, page, "admin-kata-sandi-sementara")
    await dialog(page).get_by_role("button", name="Tutup").click()
    await expect(await listed(page, REQUESTER)).to_contain_text(UNIT_NAME)
    units = await story.admin.ok("GET", "/api/identity/units", params={"q": UNIT_CODE})
    (unit,) = [u for u in units["items"] if u["code"] == UNIT_CODE]
    story.unit_id = unit["id"]

    # Master data: the defaults the SOP's SLA table quotes.
    await page.goto(f"{story.gateway}/#/admin/categories")
    await expect(page.locator("tbody tr", has_text="Jaringan & Internet")).to_be_visible()
    await shot(story, page, "admin-kategori", calm=True)
    await page.goto(f"{story.gateway}/#/admin/priorities")
    critical = page.locator("tbody tr", has_text="Kritis")
    await expect(critical).to_contain_text("30 menit")
    await expect(critical).to_contain_text("4 jam")
    await shot(story, page, "admin-prioritas-sla", calm=True)
    await page.goto(f"{story.gateway}/#/admin/calendar")
    await expect(page.locator("main")).to_contain_text("Asia/Jakarta")
    days = page.locator("select[name=weekday]")
    await expect(days.nth(0).locator("option:checked")).to_have_text("Senin")
    await expect(days.nth(4).locator("option:checked")).to_have_text("Jumat")
    await shot(story, page, "admin-jam-kerja", calm=True)
    await page.goto(f"{story.gateway}/#/admin/mailboxes")
    await expect(page.locator(".callout")).to_be_visible()
    await shot(story, page, "admin-kotak-surat", calm=True)
    await page.context.close()


async def test_requester_sets_a_password_and_files_a_ticket_with_a_photo(
    browser: Browser, story: Story, errors: list[str], tmp_path: Path
) -> None:
    assert story.temporary_password, "the administrator's step made no requester"
    context = await browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT}, timezone_id="Asia/Jakarta", locale="id-ID"
    )
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{story.gateway}/#/login")
    await page.fill("input[name=username]", REQUESTER)
    await page.fill("input[name=password]", story.temporary_password)
    await shot(story, page, "pemohon-masuk")
    await page.click("button[type=submit]")
    # A temporary password must be replaced first.
    await expect(page).to_have_url(re.compile(r"#/account$"))
    await expect(page.locator(".alert-warning")).to_contain_text("harus diganti")
    await page.locator("[name=current_password]").fill(story.temporary_password)
    await page.locator("[name=new_password]").fill(REQUESTER_PASSWORD)
    await page.locator("[name=confirm_password]").fill(REQUESTER_PASSWORD)
    await shot(story, page, "pemohon-ganti-kata-sandi")
    await (
        page.locator("form", has=page.locator("[name=new_password]"))
        .locator("button[type=submit]")
        .click()
    )
    await expect(page).not_to_have_url(re.compile(r"#/account$"))

    await menu(page, "Buat tiket").click()
    form = page.locator("form.form-card")
    await expect(form).to_contain_text(f"Tiket untuk unit: {UNIT_NAME}")
    await form.locator("[name=title]").fill(TITLE)
    await form.locator("[name=description]").fill(DESCRIPTION)
    await form.locator("select[name=category_id]").select_option(label="Perangkat Keras")
    picture = tmp_path / "foto-printer.png"
    await asyncio.to_thread(picture.write_bytes, printer_photo())
    await form.locator("input[name=files]").set_input_files(str(picture))
    await expect(form.locator(".att-chosen li")).to_contain_text("foto-printer.png")
    await shot(
        story, page, "pemohon-formulir-tiket", show=form.locator("button[type=submit]"), calm=True
    )
    await form.locator("button[type=submit]").click()

    await expect(page).to_have_url(TICKET_PAGE, timeout=20_000)
    match = TICKET_PAGE.search(page.url)
    assert match is not None
    await expect(page.locator("h1")).to_have_text(TITLE)
    await expect(status_badge(page)).to_have_text("Baru")
    photo = page.locator(".att-item", has_text="foto-printer.png")
    # Scanned for malware (clamd) before anyone may download it.
    await expect(photo).to_have_attribute("data-scan", "clean", timeout=30_000)
    await expect(photo.locator("img.att-thumb-img")).to_be_visible(timeout=15_000)
    await shot(story, page, "pemohon-tiket-baru")
    story.ticket = await story.admin.ok("GET", f"/api/tickets/tickets/{match.group(1)}")
    assert (story.ticket["unit_id"], story.ticket["status"]) == (story.unit_id, "new")
    assert story.ticket["number"] in await page.locator(".ticket-number-big").inner_text()

    await menu(page, "Tiket").click()
    row = page.locator("tbody tr", has_text=story.ticket["number"])
    await expect(row).to_contain_text("Baru")
    await shot(story, page, "pemohon-daftar-tiket", calm=True)
    await context.close()


def printer_photo() -> bytes:
    """A picture made here of a printer's panel with a red light: nothing private in it."""
    image = Image.new("RGB", (640, 480), (225, 225, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 140, 560, 380), fill=(60, 60, 64))
    draw.rectangle((120, 180, 330, 260), fill=(150, 190, 150))
    draw.ellipse((430, 200, 470, 240), fill=(230, 40, 40))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def test_agent_finds_the_ticket_accepts_it_and_asks_the_requester(
    browser: Browser, story: Story, errors: list[str]
) -> None:
    assert story.ticket, "the requester's step filed no ticket"
    page = await open_as(browser, story, AGENT, errors)
    await page.locator("[data-view=unassigned]").click()
    row = page.locator("tbody tr", has_text=story.ticket["number"])
    await expect(row).to_contain_text(TITLE)
    await expect(row).to_contain_text(UNIT_NAME)
    await shot(story, page, "petugas-antrean")

    await row.get_by_role("link", name=TITLE).click()
    await expect(page.locator("h1")).to_have_text(TITLE)
    await action_dialog(page, "accept")
    await shot(story, page, "petugas-verifikasi")
    await send_dialog(page)
    await expect(status_badge(page)).to_have_text("Diproses")
    await expect(page.locator(".details dd", has_text=AGENT_NAME)).to_be_visible()
    await shot(story, page, "petugas-diproses")

    await action_dialog(page, "pending", reason=QUESTION)
    await shot(story, page, "petugas-tunda", calm=True)
    await send_dialog(page)
    await expect(status_badge(page)).to_have_text("Tertunda")
    await expect(page.locator(".badge.sla-paused").first).to_have_text("SLA dijeda")
    ticket = await story.admin.ok("GET", f"/api/tickets/tickets/{story.ticket['id']}")
    assert (ticket["status"], ticket["assignee_id"] is not None, ticket["sla_paused"]) == (
        "pending",
        True,
        True,
    )
    await page.context.close()


async def requester_page(browser: Browser, story: Story, errors: list[str]) -> Page:
    page = await sign_in(
        browser,
        story.gateway,
        REQUESTER,
        REQUESTER_PASSWORD,
        errors,
        timezone_id="Asia/Jakarta",
        locale="id-ID",
        width=WIDTH,
        height=HEIGHT,
    )
    await open_ticket(page, story)
    return page


async def test_requester_answers_and_resumes_the_ticket(
    browser: Browser, story: Story, errors: list[str]
) -> None:
    assert story.ticket, "the requester's step filed no ticket"
    page = await requester_page(browser, story, errors)
    await expect(status_badge(page)).to_have_text("Tertunda")
    await expect(page.locator(".tl-pending")).to_contain_text(QUESTION)
    box = page.locator(".comment-form textarea[name=body]")
    await box.fill(ANSWER)
    await shot(story, page, "pemohon-balas", show=page.locator(".comment-form"))
    await page.locator(".comment-form button[type=submit]").click()
    await expect(page.locator(".tl-comment", has_text=ANSWER)).to_be_visible()
    await expect(box).to_have_value("")
    await action_dialog(page, "resume")
    await send_dialog(page)
    await expect(status_badge(page)).to_have_text("Diproses")
    await page.context.close()


async def test_agent_notes_internally_and_resolves_with_a_result_summary(
    browser: Browser, story: Story, errors: list[str]
) -> None:
    assert story.ticket, "the requester's step filed no ticket"
    page = await open_as(browser, story, AGENT, errors)
    await open_ticket(page, story)
    await expect(page.locator(".tl-comment", has_text=ANSWER)).to_be_visible()
    box = page.locator(".comment-form textarea[name=body]")
    await box.fill(INTERNAL_NOTE)
    await page.locator(".comment-form [name=internal]").check()
    await page.locator(".comment-form button[type=submit]").click()
    note = page.locator(".tl-item.tl-internal", has_text=INTERNAL_NOTE)
    await expect(note.locator(".badge-internal")).to_be_visible()
    await shot(story, page, "petugas-catatan-internal", show=note)

    await action_dialog(page, "resolve", result_summary=RESULT)
    await shot(story, page, "petugas-selesaikan")
    await send_dialog(page)
    await expect(status_badge(page)).to_have_text("Selesai")
    await expect(page.locator(".card.result")).to_contain_text(RESULT)
    await shot(story, page, "petugas-selesai")
    await page.context.close()


async def test_requester_confirms_the_resolution(
    browser: Browser, story: Story, errors: list[str]
) -> None:
    assert story.ticket, "the requester's step filed no ticket"
    page = await requester_page(browser, story, errors)
    await expect(page.locator(".card.result")).to_contain_text(RESULT)
    assert INTERNAL_NOTE not in await page.locator("main").inner_text()
    await action_dialog(page, "confirm")
    await shot(story, page, "pemohon-konfirmasi")
    await send_dialog(page)
    await expect(status_badge(page)).to_have_text("Ditutup")
    await expect(page.locator(".ticket-actions [data-action=confirm]")).to_have_count(0)
    ticket = await story.admin.ok("GET", f"/api/tickets/tickets/{story.ticket['id']}")
    assert ticket["status"] == "closed"
    await page.context.close()


async def test_leader_reads_the_dashboard_and_downloads_reports(
    browser: Browser, story: Story, errors: list[str]
) -> None:
    assert story.unit_id, "the administrator's step made no unit"
    page = await open_as(browser, story, LEADER, errors)
    # Leaders land on the dashboard.
    await expect(page).to_have_url(re.compile(r"#/dashboard"))
    await page.goto(f"{story.gateway}/#/dashboard?unit_id={story.unit_id}")
    await expect(page.locator(".live")).to_have_attribute("data-live", "open")

    async def shown(key: str) -> str:
        value = await page.get_attribute(f"[data-stat={key}] .stat-value", "data-value")
        return value or ""

    async def unit_figures_shown() -> bool:
        """The unit's one ticket, filed and resolved, on the cards (the reports service's
        read model follows the events: asked again while it settles)."""
        return [await shown("created"), await shown("resolved")] == ["1", "1"]

    await eventually(unit_figures_shown, timeout=20, interval=0.3)
    await expect(page.locator(".recap-summary")).to_have_text(RESULT)
    await shot(story, page, "pimpinan-dasbor")

    full_report = page.locator("[data-export='full.pdf']")
    async with page.expect_download(timeout=30_000) as info:
        await full_report.click()
    report = await info.value
    assert (await pdf_start(report)) == b"%PDF"
    await shot(story, page, "pimpinan-unduh-laporan", show=page.locator(".recap-summary"))

    await open_ticket(page, story)
    await expect(page.locator("main")).to_contain_text("Anda hanya dapat melihat tiket ini.")
    berita_acara = page.locator("[data-doc=berita-acara]")
    async with page.expect_download(timeout=30_000) as info:
        await berita_acara.click()
    document = await info.value
    assert (await pdf_start(document)) == b"%PDF"
    await shot(story, page, "pimpinan-berita-acara")
    await page.context.close()


async def pdf_start(download: Any) -> bytes:
    path = await download.path()
    data = await asyncio.to_thread(Path(path).read_bytes)
    return data[:4]


def referenced_images() -> set[str]:
    return {name for guide in GUIDES for name in IMAGE_REFERENCE.findall(guide.read_text())}


async def test_the_guides_show_exactly_the_screenshots_taken(story: Story) -> None:
    """Every image the guides show was taken by this run (so a renamed or dropped step
    cannot leave the guide behind), and every one taken is shown somewhere."""
    referenced = await asyncio.to_thread(referenced_images)
    assert referenced - story.taken == set(), "shown in the guides, never taken"
    assert story.taken - referenced == set(), "taken, shown in no guide"
