"""The ticket page in a real browser (Debian's Chromium through Playwright) against the whole
system: a comment in Markdown shows formatted and inert (a <script> in it is text), and its
mail carries the same sanitised HTML; the page follows changes made elsewhere over the live
stream without a reload, keeping what is being typed, and a dialog opened before someone
else's change explains the 412 instead of overwriting; after a reopen the old result summary
leaves the page (it stays on the timeline); the contact's e-mail breaks only after "@" and
dots on a phone.

Screenshots land in /tmp/ticketpage/ (ticketpage-*.png) for a person to look at.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Unpack

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import (
    PHONE,
    Office,
    SignInOptions,
    file_ticket,
    open_as,
    set_up_office,
)

SHOTS = Path("/tmp/ticketpage")  # noqa: S108 - screenshots for a person to look at
# The live update must reach an open page this fast.
LIVE_MS = 2_000

COMMENT = "\n".join(
    [
        "Sudah kami periksa, **printer rusak** dan _toner_ habis:",
        "",
        "- ganti toner",
        "- cek kabel `USB`",
        "",
        "Panduan: [cara mengganti toner](https://example.go.id/panduan-toner)",
        "",
        "<script>alert('xss')</script>",
    ]
)


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> Office:
    """A unit with a requester, and two agents (passwords set, e-mail addresses)."""
    return await set_up_office(
        system,
        http,
        unit_name="Dinas Halaman Tiket",
        code_prefix="TP",
        people={"requester": "requester", "agent_a": "agent", "agent_b": "agent"},
        emails=True,
    )


async def new_ticket(office: Office, title: str, **fields: str) -> dict:
    """A ticket filed by the requester through the API."""
    return await file_ticket(
        office.people["requester"],
        title=title,
        description="Printer di ruang rapat tidak bisa mencetak sejak pagi.",
        category_id=office.category_id,
        **fields,
    )


async def open_ticket(
    browser: Browser,
    office: Office,
    kind: str,
    ticket: dict,
    errors: list[str],
    **options: Unpack[SignInOptions],
) -> Page:
    page = await open_as(browser, office, kind, errors, **options)
    await page.goto(f"{office.gateway}/#/tickets/{ticket['id']}")
    await expect(page.locator("h1")).to_have_text(ticket["title"])
    await expect(page.locator(".timeline .tl-item").first).to_be_visible()
    return page


async def shot(page: Page, name: str) -> None:
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"ticketpage-{name}.png"), full_page=True)


async def test_a_markdown_comment_is_formatted_and_inert_on_the_page_and_in_its_mail(
    browser: Browser, office: Office, system: LocalSystem, http: httpx.AsyncClient
) -> None:
    ticket = await new_ticket(office, f"Printer rusak {office.tag}")
    errors: list[str] = []
    page = await open_ticket(browser, office, "agent_a", ticket, errors)
    alerts: list[str] = []
    page.on("dialog", lambda dialog: alerts.append(dialog.message))

    box = page.locator(".comment-form textarea[name=body]")
    # The server's limits are the field's own (the form's inline checks cover them).
    assert await box.get_attribute("maxlength") == "10000"
    assert await box.get_attribute("required") is not None
    await expect(page.locator(".comment-form .hint")).to_contain_text("Markdown didukung")
    await box.fill(COMMENT)
    await page.locator(".comment-form button[type=submit]").click()

    bubble = page.locator(".tl-comment .bubble.md").last
    await expect(bubble.locator("strong")).to_have_text("printer rusak")
    await expect(bubble.locator("em")).to_have_text("toner")
    await expect(bubble.locator("ul > li")).to_have_text(["ganti toner", "cek kabel USB"])
    await expect(bubble.locator("code")).to_have_text("USB")
    link = bubble.locator("a")
    await expect(link).to_have_text("cara mengganti toner")
    assert await link.get_attribute("href") == "https://example.go.id/panduan-toner"
    assert await link.get_attribute("rel") == "noopener noreferrer nofollow"
    assert await link.get_attribute("target") == "_blank"
    # The script is text on the page, never an element; nothing ran.
    await expect(bubble).to_contain_text("<script>alert('xss')</script>")
    assert await page.locator(".timeline script").count() == 0
    assert await bubble.locator("[onerror], [onclick], img, iframe, style").count() == 0
    assert await box.input_value() == ""  # sent: the box is empty again
    await shot(page, "comment-desktop")

    # The requester's mail: the same sanitised HTML in its HTML part, plain text in the other.
    async def comment_mail() -> dict | None:
        listed = await http.get(
            f"{system.mail_url}/api/messages", params={"to": office.emails["requester"]}
        )
        for mail in listed.json():
            if ticket["number"] in mail["subject"] and "printer rusak" in mail["text"]:
                return (await http.get(f"{system.mail_url}/api/messages/{mail['id']}")).json()
        return None

    mail = await eventually(comment_mail, timeout=30, interval=0.5)
    assert "<strong>printer rusak</strong>" in mail["html"]
    assert '<a href="https://example.go.id/panduan-toner"' in mail["html"]
    assert "<script" not in mail["html"]
    assert "<p>&lt;script&gt;alert('xss')&lt;/script&gt;</p>" in mail["html"]
    assert "**" not in mail["text"] and "<strong>" not in mail["text"]
    assert "- ganti toner" in mail["text"]
    assert "cara mengganti toner (https://example.go.id/panduan-toner)" in mail["text"]

    phone = await open_ticket(browser, office, "agent_a", ticket, errors, **PHONE)
    await expect(phone.locator(".tl-comment .bubble.md strong")).to_have_text("printer rusak")
    await shot(phone, "comment-phone")
    assert not alerts, alerts
    assert not errors, errors
    await page.context.close()
    await phone.context.close()


async def test_the_page_follows_changes_made_elsewhere_without_losing_the_draft(
    browser: Browser, office: Office
) -> None:
    ticket = await new_ticket(office, f"Jaringan lambat {office.tag}")
    path = f"/api/tickets/tickets/{ticket['id']}"
    claimed = await office.people["agent_a"].ok("POST", f"{path}/claim")
    errors: list[str] = []
    page = await open_ticket(browser, office, "agent_a", ticket, errors)
    await expect(page.locator(".ticket-head .badge").first).to_have_text("Diproses")

    # Agent A is writing a comment when agent B comments through the API.
    box = page.locator(".comment-form textarea[name=body]")
    await box.fill("Draf balasan yang belum dikirim")
    await box.focus()
    await office.people["agent_b"].ok(
        "POST", f"{path}/comments", json={"body": "Saya bantu cek **router** lantai 2."}
    )
    other = page.locator(".tl-comment .bubble.md strong", has_text="router")
    await expect(other).to_be_visible(timeout=LIVE_MS)
    cue = page.locator(".ticket-updated")
    await expect(cue).to_contain_text("Diperbarui", timeout=LIVE_MS)
    await expect(cue).to_contain_text(office.full_names["agent_b"])
    assert await box.input_value() == "Draf balasan yang belum dikirim"
    assert await box.evaluate("el => el === document.activeElement")

    # A dialog opened on this version, then agent B changes the ticket: the dialog says so,
    # its 412 is explained with the fresh data on the page, nothing is overwritten silently.
    await page.locator(".ticket-actions [data-action=pending]").click()
    dialog = page.locator("dialog[open]")
    await dialog.locator("textarea[name=reason]").fill("Menunggu jadwal teknisi dari SKPD")
    # (An edit publishes no event the stream could tell: a reassignment does.) Agent B takes
    # the ticket over and hands it back: agent A holds it again, at a newer version.
    agent_a = await office.people["agent_a"].ok("GET", "/api/identity/auth/me")
    agent_b = await office.people["agent_b"].ok("GET", "/api/identity/auth/me")
    taken = await office.people["agent_b"].ok(
        "POST",
        f"{path}/assign",
        json={"assignee_id": agent_b["id"]},
        headers={"If-Match": f'"{claimed["version"]}"'},
    )
    assignee = page.locator(".details dd", has_text=office.full_names["agent_b"])
    await expect(assignee).to_be_visible(timeout=LIVE_MS)
    await office.people["agent_b"].ok(
        "POST",
        f"{path}/assign",
        json={"assignee_id": agent_a["id"]},
        headers={"If-Match": f'"{taken["version"]}"'},
    )
    assignee = page.locator(".details dd", has_text=office.full_names["agent_a"])
    await expect(assignee).to_be_visible(timeout=LIVE_MS)
    await expect(dialog.locator(".stale-note")).to_contain_text(office.full_names["agent_b"])
    await dialog.locator("button[type=submit]").click()
    await expect(dialog.locator(".form-alert")).to_contain_text("diubah sejak formulir ini dibuka")
    await expect(dialog.locator(".form-alert")).to_contain_text(office.full_names["agent_b"])
    await expect(dialog.locator("textarea[name=reason]")).to_have_value(
        "Menunggu jadwal teknisi dari SKPD"
    )
    fresh = await office.people["agent_a"].ok("GET", path)
    assert fresh["status"] == "in_progress" and fresh["assignee_id"] == agent_a["id"]
    await shot(page, "stale-dialog")
    # Sent again, knowingly: it applies to the new version.
    await dialog.locator("button[type=submit]").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator(".ticket-head .badge").first).to_have_text("Tertunda")
    assert await box.input_value() == "Draf balasan yang belum dikirim"

    # A status change made elsewhere (the holder's other device) reaches the page too.
    await office.people["agent_a"].ok("POST", f"{path}/resume", json={})
    await expect(page.locator(".ticket-head .badge").first).to_have_text(
        "Diproses", timeout=LIVE_MS
    )
    await expect(page.locator(".ticket-actions [data-action=resolve]")).to_be_visible()
    await shot(page, "live-desktop")
    assert not errors, errors
    await page.context.close()


async def test_after_a_reopen_the_old_result_summary_leaves_the_page(
    browser: Browser, office: Office
) -> None:
    email = "siti.rahmawati.pemohon@dinaspendidikan.bukittinggikota.go.id"
    ticket = await new_ticket(office, f"Aplikasi gaji error {office.tag}", contact_email=email)
    path = f"/api/tickets/tickets/{ticket['id']}"
    await office.people["agent_a"].ok("POST", f"{path}/claim")
    await office.people["agent_a"].ok(
        "POST", f"{path}/resolve", json={"result_summary": "Modul gaji diperbarui ke versi 2.3"}
    )
    errors: list[str] = []
    page = await open_ticket(browser, office, "requester", ticket, errors, **PHONE)
    result = page.locator(".result-slot .result")
    await expect(result).to_contain_text("Modul gaji diperbarui ke versi 2.3")

    # The contact's address breaks only after "@" or a dot on a phone.
    address = page.locator(".details .contact-email")
    await expect(address).to_have_text(email)
    breaks = await address.evaluate(
        """el => {
            const text = el.textContent, tops = [], range = document.createRange();
            let offset = 0;
            for (const node of el.childNodes) {
                if (node.nodeType !== Node.TEXT_NODE) continue;
                for (let i = 0; i < node.data.length; i++) {
                    range.setStart(node, i);
                    range.setEnd(node, i + 1);
                    tops.push(Math.round(range.getBoundingClientRect().top));
                }
            }
            const after = [];
            for (let i = 1; i < tops.length; i++) {
                if (tops[i] > tops[i - 1]) after.push(text[i - 1]);
            }
            return after;
        }"""
    )
    assert breaks, "the address fits one line: make it longer for this test"
    assert set(breaks) <= {"@", "."}, breaks
    await shot(page, "resolved-phone")

    await page.locator(".ticket-actions [data-action=reopen]").click()
    dialog = page.locator("dialog[open]")
    reason = dialog.locator("textarea[name=reason]")
    assert await reason.get_attribute("minlength") == "3"
    assert await reason.get_attribute("maxlength") == "2000"
    await reason.fill("Masih error saat cetak slip")
    await dialog.locator("button[type=submit]").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator(".ticket-head .badge").first).to_have_text("Diproses")
    await expect(result).to_have_count(0)
    # The summary stays where it belongs: on the timeline, with its resolution.
    await expect(page.locator(".tl-resolve .bubble")).to_contain_text(
        "Modul gaji diperbarui ke versi 2.3"
    )
    await shot(page, "reopened-phone")
    assert not errors, errors
    await page.context.close()
