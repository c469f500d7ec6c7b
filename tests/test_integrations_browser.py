"""Intake channels and integrations in a real browser (Debian's Chromium through Playwright)
against a whole system of its own (outbound webhooks may go to loopback here:
INTEGRATIONS_WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8, for the receiver this test runs).

An administrator, through the admin pages only:
- makes an outbound webhook (event types ticked, the generated secret shown once), pings it
  and sees the delivery succeed in the log (status, attempts, HTTP code), the receiver
  checks the signature with that secret; redelivers it;
- makes a generic chat channel, copies its full webhook URL and reads the signing rules and
  the curl example; a message this test signs (HMAC-SHA256 over "<timestamp>.<body>") makes
  a ticket, shown in the channel's message log with a link to the ticket, whose page says
  channel "Webhook/Chat" (and the ticket list's label too); a wrong signature makes nothing;
  the webhook's log shows the ticket.created delivery the ticket caused;
- makes a mailbox on the system's own IMAP server, checks the connection (a result), sees
  its status and, after a mail arrives, the message log with the ticket it made (channel
  "E-mail" on its page); a mailbox with a wrong password shows as failing with the error.
The pages on a 390x844 phone: nothing scrolls sideways.

Screenshots land in /tmp/integrations/ (intg-*.png) for a person to look at.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import imaplib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from helpdesk_testing import LocalSystem, local_system
from helpdesk_testing.browser import (
    PHONE,
    Office,
    fits_phone,
    set_up_office,
    sign_in,
)

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path("/tmp/integrations")  # noqa: S108 - screenshots for a person to look at
API = "/api/integrations"
CHANNEL_SECRET = "rahasia-kanal-chat-0123456789"

pytestmark = pytest.mark.timeout(360)


@pytest.fixture(scope="module")
async def system(
    tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> AsyncIterator[LocalSystem]:
    """This module's own system: outbound webhooks may go to this test's loopback receiver."""
    async with local_system(
        root=ROOT,
        state_dir=tmp_path_factory.mktemp("integrations-system-state"),
        run_id=f"{run_id}intg",
        extra_env={"INTEGRATIONS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"},
    ) as started:
        yield started
    assert started.process.returncode == 0, "".join(started.output[-50:])


@pytest.fixture(scope="module")
async def office(system: LocalSystem, http: httpx.AsyncClient) -> Office:
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    return await set_up_office(
        system,
        http,
        unit_name="Dinas Integrasi",
        code_prefix="IN",
        people={"requester": "requester"},
        emails=True,
    )


# -- a receiver of outbound webhooks ----------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A plain HTTP server on loopback that answers every POST with 200 and keeps it."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(headers, body))
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                b"Connection: close\r\n\r\nok"
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def of_type(self, event_type: str) -> list[dict]:
        return [
            json.loads(r.body)
            for r in self.requests
            if r.headers.get("x-helpdesk-event") == event_type
        ]


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    server = await asyncio.start_server(found.handle, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    async with server:
        yield found


def signature_ok(secret: str, request: Received) -> bool:
    """X-Helpdesk-Signature is sha256=<hex HMAC(secret, "<timestamp>.<body>")>."""
    timestamp = request.headers["x-helpdesk-timestamp"]
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(request.headers["x-helpdesk-signature"], f"sha256={expected}")


# -- page helpers -------------------------------------------------------------------------------


async def until_visible(
    page: Page, target: Locator, *, refresh: Callable[[], Awaitable[None]], timeout: float = 40
) -> None:
    """Refresh (the page's "Muat ulang" button) until the target shows: logs fill in the
    background (the poller, the sender)."""
    deadline = time.monotonic() + timeout
    while True:
        if await target.count() and await target.first.is_visible():
            return
        assert time.monotonic() < deadline, f"not shown within {timeout}s: {target}"
        await refresh()
        await page.wait_for_timeout(700)


def reload_button(page: Page) -> Callable[[], Awaitable[None]]:
    async def click() -> None:
        await page.get_by_role("button", name="Muat ulang").click()

    return click


@dataclass(frozen=True)
class Imap:
    """The system's own IMAP server (deploy/local/up.py starts a Dovecot with one mailbox)."""

    host: str
    port: int
    user: str
    password: str


def local_imap(system: LocalSystem) -> Imap:
    """The mailbox the banner names (helpdesk@localhost), as an administrator reads it."""
    assert system.imap_address and system.imap_password, (
        "the system started no IMAP server (is Dovecot installed? scripts/test)"
    )
    host, _, port = system.imap_address.rpartition(":")
    return Imap(host, int(port), "helpdesk@localhost", system.imap_password)


def deliver(imap: Imap, *, sender: str, subject: str, body: str) -> None:
    """A mail put into the mailbox's INBOX (IMAP APPEND), as a mail server would."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = imap.user
    mail["Subject"] = subject
    mail["Date"] = format_datetime(time_now())
    mail["Message-ID"] = make_msgid(domain="example.go.id")
    mail.set_content(body)
    client = imaplib.IMAP4(imap.host, imap.port)
    try:
        client.login(imap.user, imap.password)
        status, _ = client.append("INBOX", "", None, mail.as_bytes())
        assert status == "OK", status
    finally:
        client.logout()


def time_now() -> datetime:
    return datetime.now(UTC)


def signed(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Helpdesk-Timestamp": ts,
        "X-Helpdesk-Signature": f"sha256={digest}",
    }


async def on_phone(browser: Browser, system: LocalSystem, errors: list[str]) -> Page:
    return await sign_in(
        browser, system.gateway_url, "admin", system.admin_password, errors, **PHONE
    )


async def phone_shot(page: Page, route: str, name: str, ready: str) -> None:
    await page.goto(f"{page.url.split('#')[0]}#{route}")
    await expect(page.get_by_text(ready).first).to_be_visible()
    await fits_phone(page)
    await page.screenshot(path=str(SHOTS / f"intg-{name}-phone.png"), full_page=True)


# -- the test -------------------------------------------------------------------------------------


async def test_webhook_and_chat_channel_pages(
    browser: Browser,
    office: Office,
    system: LocalSystem,
    http: httpx.AsyncClient,
    receiver: Receiver,
) -> None:
    errors: list[str] = []
    gateway = system.gateway_url
    page = await sign_in(browser, gateway, "admin", system.admin_password, errors)
    # The copy buttons write to the clipboard; the test reads it back.
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    dialog = page.locator("dialog[open]")

    # -- an outbound webhook, made on its page ---------------------------------------------
    await page.goto(f"{gateway}/#/admin/webhooks")
    await expect(page.get_by_role("heading", name="Administrasi: Webhook keluar")).to_be_visible()
    await page.get_by_role("button", name="Webhook baru").click()
    await dialog.locator("input[name=name]").fill(f"Penerima {office.tag}")
    url = dialog.locator("input[name=url]")
    # The form checks what the API checks: an address that is not http(s) stays here.
    await url.fill("ftp://127.0.0.1/hook")
    await dialog.get_by_role("button", name="Buat").click()
    await expect(dialog.locator(".field-error:visible")).to_have_text(
        [
            "Masukkan alamat yang diawali http:// atau https:// dan nama server.",
            "Pilih minimal satu jenis peristiwa.",
        ]
    )
    # No event type ticked: said under the list, nothing sent.
    await url.fill(f"http://127.0.0.1:{receiver.port}/hook")
    await dialog.get_by_role("button", name="Buat").click()
    await expect(dialog.locator(".field-error:visible")).to_have_text(
        "Pilih minimal satu jenis peristiwa."
    )
    await dialog.get_by_label("Tiket dibuat").check()
    # The server refuses the cloud's metadata address: its reason under the URL, the form kept.
    await url.fill("http://169.254.169.254/latest/meta-data")
    await dialog.get_by_role("button", name="Buat").click()
    await expect(url).to_have_attribute("aria-invalid", "true")
    await expect(dialog.locator(".field-error:visible")).to_have_text(
        "Alamat ini menuju jaringan yang tidak diizinkan (loopback, link-local, multicast)."
    )
    await expect(dialog.get_by_label("Tiket dibuat")).to_be_checked()
    await url.fill(f"http://127.0.0.1:{receiver.port}/hook")
    names = [w["name"] for w in (await office.admin.ok("GET", f"{API}/webhooks"))["items"]]
    assert f"Penerima {office.tag}" not in names
    await dialog.get_by_role("button", name="Buat").click()
    # The generated secret, shown once.
    await expect(dialog.get_by_role("heading", name="Kunci rahasia webhook")).to_be_visible()
    secret = await dialog.get_by_label("Kunci rahasia").input_value()
    assert len(secret) >= 16
    await page.screenshot(path=str(SHOTS / "intg-webhook-secret.png"))
    await dialog.get_by_role("button", name="Tutup").click()
    await expect(page).to_have_url(re.compile(r"#/admin/webhooks/[0-9a-f-]{36}$"))
    webhook_id = page.url.rsplit("/", 1)[1]
    hook = await office.admin.ok("GET", f"{API}/webhooks/{webhook_id}")
    assert hook["event_types"] == ["ticket.created"] and hook["has_secret"]
    assert "secret" not in hook
    summary = page.locator(".intg-summary")
    await expect(summary.locator("[data-state]")).to_have_text("Aktif")
    await expect(summary).to_contain_text("Tiket dibuat")

    # A ping: delivered, signed with the secret shown.
    await page.get_by_role("button", name="Kirim ping").click()
    ping_row = page.locator("tr", has_text="Ping").filter(has_text="Berhasil")
    await until_visible(page, ping_row, refresh=reload_button(page))
    await expect(ping_row.locator("td[data-label='Kode HTTP']")).to_have_text("200")
    await expect(ping_row.locator("td[data-label='Percobaan']")).to_have_text("1")
    pings = [r for r in receiver.requests if r.headers.get("x-helpdesk-event") == "webhook.ping"]
    assert pings and all(signature_ok(secret, r) for r in pings)
    # The delivery's detail: the request as sent and the receiver's answer.
    await ping_row.get_by_role("button", name="Lihat").click()
    await expect(dialog.locator("pre").first).to_contain_text('"event_type": "webhook.ping"')
    await page.screenshot(path=str(SHOTS / "intg-delivery-desktop.png"))
    await dialog.get_by_role("button", name="Tutup").click()
    # Redelivered: a second ping delivery, delivered too.
    await ping_row.get_by_role("button", name="Kirim ulang").click()
    await expect(page.get_by_text("Dijadwalkan untuk dikirim ulang.")).to_be_visible()
    await until_visible(
        page,
        page.locator("tr", has_text="Ping").filter(has_text="Berhasil").nth(1),
        refresh=reload_button(page),
    )
    assert len(receiver.of_type("webhook.ping")) >= 2

    # -- a chat channel, made on its page -------------------------------------------------
    await page.goto(f"{gateway}/#/admin/channels")
    await page.get_by_role("button", name="Kanal chat baru").click()
    await dialog.locator("input[name=name]").fill(f"Chat layanan {office.tag}")
    # WhatsApp asks for the verify token of Meta's subscription handshake; generic JSON not.
    await dialog.get_by_label("Penyedia").select_option("whatsapp")
    await expect(dialog.locator("input[name=verify_token]")).to_be_visible()
    await dialog.get_by_label("Penyedia").select_option("generic")
    # The verify token is WhatsApp's only.
    await expect(dialog.locator("input[name=verify_token]")).to_be_hidden()
    key = dialog.locator("input[name=secret]")
    await key.fill("pendek")
    await dialog.get_by_label("Unit bawaan").select_option(office.unit["id"])
    await dialog.get_by_label("Kategori bawaan").select_option(office.category_id)
    await dialog.get_by_role("button", name="Buat").click()
    await expect(dialog.locator(".field-error:visible")).to_contain_text("16")
    await key.fill(CHANNEL_SECRET)
    await page.screenshot(path=str(SHOTS / "intg-channel-form-desktop.png"))
    await dialog.get_by_role("button", name="Buat").click()
    await expect(page).to_have_url(re.compile(r"#/admin/channels/[0-9a-f-]{36}$"))
    channel_id = page.url.rsplit("/", 1)[1]
    hook_url = await page.get_by_label("Alamat webhook").input_value()
    await (
        page.locator(".copy-box", has=page.get_by_label("Alamat webhook"))
        .get_by_role("button", name="Salin")
        .click()
    )
    await expect(page.get_by_text("Disalin.")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == hook_url
    assert hook_url == f"{gateway}/api/integrations/hooks/{channel_id}"
    example = await page.get_by_label("Contoh (curl)").input_value()
    assert hook_url in example and "X-Helpdesk-Signature: sha256=" in example
    await expect(page.get_by_text("X-Helpdesk-Timestamp berisi waktu Unix")).to_be_visible()
    await expect(page.get_by_text("Belum ada pesan.")).to_be_visible()
    await page.screenshot(path=str(SHOTS / "intg-channel-empty-desktop.png"), full_page=True)

    # A wrong signature: refused, nothing made.
    message = {
        "message_id": f"m-{office.tag}-1",
        "conversation_id": f"c-{office.tag}",
        "sender": {"id": "u-1", "name": "Budi Chat", "email": office.emails["requester"]},
        "text": f"Printer di ruang rapat macet {office.tag}",
    }
    body = json.dumps(message).encode()
    refused = await http.post(hook_url, content=body, headers=signed("salah" * 4, body))
    assert refused.status_code == 401, refused.text
    # Signed as the channel's rules say: a ticket.
    made = await http.post(hook_url, content=body, headers=signed(CHANNEL_SECRET, body))
    assert made.status_code == 200, made.text
    result = made.json()["results"][0]
    assert result["outcome"] == "ticket" and result["ticket_id"]
    ticket_number = result["ticket_number"]

    log_row = page.locator("tr", has_text=ticket_number)
    await until_visible(page, log_row, refresh=reload_button(page))
    await expect(log_row.locator("[data-outcome]")).to_have_text("Tiket baru")
    await expect(log_row).to_contain_text("Budi Chat")
    await page.screenshot(path=str(SHOTS / "intg-channel-desktop.png"), full_page=True)
    await log_row.get_by_role("link", name=ticket_number).click()
    await expect(page).to_have_url(re.compile(rf"#/tickets/{result['ticket_id']}$"))
    await expect(page.locator(".channel-label")).to_have_text("Webhook/Chat")
    await page.screenshot(path=str(SHOTS / "intg-ticket-desktop.png"), full_page=True)
    # The ticket list says so too, under the number.
    await page.goto(f"{gateway}/#/tickets")
    row = page.locator("tr", has_text=ticket_number)
    await expect(row.locator(".channel-tag")).to_have_text("Webhook/Chat")

    # The ticket's event went out through the webhook: in its log.
    await page.goto(f"{gateway}/#/admin/webhooks/{webhook_id}")
    created_row = page.locator("tr", has_text="Tiket dibuat").filter(has_text="Berhasil")
    await until_visible(page, created_row, refresh=reload_button(page))
    created = receiver.of_type("ticket.created")
    assert any(e["data"]["ticket"]["ticket_id"] == result["ticket_id"] for e in created)
    await page.screenshot(path=str(SHOTS / "intg-webhook-desktop.png"), full_page=True)

    # Disabled, then enabled again on the page.
    await page.get_by_role("button", name="Matikan").click()
    await expect(page.locator(".intg-summary [data-state]")).to_have_text("Dimatikan")
    await page.get_by_role("button", name="Aktifkan kembali").click()
    await expect(page.locator(".intg-summary [data-state]")).to_have_text("Aktif")

    # -- the same pages on a phone ---------------------------------------------------------
    phone = await on_phone(browser, system, errors)
    await phone_shot(phone, "/admin/webhooks", "webhooks", f"Penerima {office.tag}")
    await phone_shot(phone, f"/admin/webhooks/{webhook_id}", "webhook", "Log pengiriman")
    await phone_shot(phone, "/admin/channels", "channels", f"Chat layanan {office.tag}")
    await phone_shot(phone, f"/admin/channels/{channel_id}", "channel", ticket_number)
    await phone_shot(phone, f"/tickets/{result['ticket_id']}", "ticket", "Webhook/Chat")
    await phone.context.close()
    await page.context.close()
    assert errors == []


async def test_mailbox_pages(
    browser: Browser,
    office: Office,
    system: LocalSystem,
    http: httpx.AsyncClient,
    receiver: Receiver,
) -> None:
    errors: list[str] = []
    imap = local_imap(system)
    gateway = system.gateway_url
    page = await sign_in(browser, gateway, "admin", system.admin_password, errors)
    dialog = page.locator("dialog[open]")
    name = f"Layanan TI {office.tag}"

    # -- a mailbox on the system's IMAP server, made on the page ------------------------------
    await page.goto(f"{gateway}/#/admin/mailboxes")
    await page.get_by_role("button", name="Kotak surat baru").click()
    await dialog.locator("input[name=name]").fill(name)
    host = dialog.locator("input[name=host]")
    # A host with a scheme: the form says what it takes, nothing is sent.
    await host.fill(f"imap://{imap.host}")
    await dialog.get_by_role("button", name="Buat").click()
    await expect(host).to_have_attribute("aria-invalid", "true")
    await expect(dialog.locator(".field-error:visible").first).to_contain_text("tanpa imap://")
    await host.fill(imap.host)
    await dialog.get_by_label("Keamanan").select_option("none")
    await dialog.locator("input[name=port]").fill(str(imap.port))
    await dialog.locator("input[name=username]").fill(imap.user)
    await dialog.locator("input[name=password]").fill(imap.password)
    await dialog.locator("input[name=poll_interval_seconds]").fill("10")
    await dialog.get_by_label("Unit bawaan").select_option(office.unit["id"])
    await dialog.get_by_label("Kategori bawaan").select_option(office.category_id)
    await page.screenshot(path=str(SHOTS / "intg-mailbox-form-desktop.png"))
    await dialog.get_by_role("button", name="Buat").click()
    await expect(dialog).to_be_hidden()
    row = page.locator("tr", has_text=name)
    await expect(row).to_be_visible()
    mailbox = next(
        m for m in (await office.admin.ok("GET", f"{API}/mailboxes"))["items"] if m["name"] == name
    )
    assert mailbox["has_password"] and mailbox["port"] == imap.port
    assert "password" not in mailbox

    # Check the connection: the result says so.
    await row.get_by_role("button", name="Periksa koneksi").click()
    await expect(dialog.locator(".check-result")).to_contain_text("Koneksi berhasil")
    await dialog.get_by_role("button", name="Tutup").click()
    # Polled: its status says it works.
    await until_visible(
        page,
        row.locator("[data-state=ok]"),
        refresh=reload_button(page),
    )
    await expect(row.locator("[data-state=ok]")).to_have_text("Berjalan")

    # The password is write-only: an edit that leaves it empty keeps it.
    await row.get_by_role("button", name="Ubah").click()
    await expect(dialog.get_by_text("kosongkan untuk tidak mengubah")).to_be_visible()
    await expect(dialog.locator("input[name=password]")).to_have_value("")
    await dialog.locator("input[name=folder]").fill("INBOX")
    await dialog.locator("input[name=poll_interval_seconds]").fill("11")
    await dialog.get_by_role("button", name="Simpan").click()
    await expect(dialog).to_be_hidden()
    edited = await office.admin.ok("GET", f"{API}/mailboxes/{mailbox['id']}")
    assert edited["poll_interval_seconds"] == 11 and edited["has_password"]
    assert edited["version"] == mailbox["version"] + 1

    # -- a mail becomes a ticket: in the mailbox's log, with a link ----------------------------
    subject = f"Laptop tidak menyala {office.tag}"
    await asyncio.to_thread(
        deliver,
        imap,
        sender=f"Requester <{office.emails['requester']}>",
        subject=subject,
        body="Laptop di ruang rapat tidak mau menyala sejak pagi.",
    )
    await row.get_by_role("link", name=name).click()
    await expect(page).to_have_url(re.compile(rf"#/admin/mailboxes/{mailbox['id']}$"))
    logged = page.locator("tr", has_text=subject)
    await until_visible(page, logged, refresh=reload_button(page), timeout=60)
    await expect(logged.locator("[data-outcome]")).to_have_text("Tiket baru")
    await expect(logged).to_contain_text(office.emails["requester"])
    await page.screenshot(path=str(SHOTS / "intg-mailbox-desktop.png"), full_page=True)
    ticket_link = logged.get_by_role("link", name=re.compile(r"^TKT-"))
    ticket_number = await ticket_link.inner_text()
    await ticket_link.click()
    await expect(page.locator(".ticket-number-big")).to_have_text(ticket_number)
    await expect(page.locator(".channel-label")).to_have_text("E-mail")

    # -- a mailbox whose password is wrong: the check says why, the status shows it -----------
    broken = f"Salah sandi {office.tag}"
    await page.goto(f"{gateway}/#/admin/mailboxes")
    await page.get_by_role("button", name="Kotak surat baru").click()
    await dialog.locator("input[name=name]").fill(broken)
    await dialog.locator("input[name=host]").fill(imap.host)
    await dialog.get_by_label("Keamanan").select_option("none")
    await dialog.locator("input[name=port]").fill(str(imap.port))
    await dialog.locator("input[name=username]").fill(imap.user)
    await dialog.locator("input[name=password]").fill("bukan-sandinya")
    await dialog.locator("input[name=poll_interval_seconds]").fill("10")
    await dialog.get_by_label("Unit bawaan").select_option(office.unit["id"])
    await dialog.get_by_label("Kategori bawaan").select_option(office.category_id)
    await dialog.get_by_role("button", name="Buat").click()
    await expect(dialog).to_be_hidden()
    bad_row = page.locator("tr", has_text=broken)
    await bad_row.get_by_role("button", name="Periksa koneksi").click()
    await expect(dialog.locator(".check-result")).to_contain_text("Koneksi gagal")
    await dialog.get_by_role("button", name="Tutup").click()
    failing = bad_row.locator("[data-state=failing]")
    await until_visible(
        page,
        failing,
        refresh=reload_button(page),
    )
    await expect(failing).to_have_text("Gagal")
    await expect(bad_row.locator(".intg-error")).not_to_be_empty()
    await expect(bad_row).to_contain_text("Gagal sejak")
    await expect(bad_row).to_contain_text("Percobaan berikutnya")
    await page.screenshot(path=str(SHOTS / "intg-mailboxes-desktop.png"), full_page=True)

    # -- the pages on a phone --------------------------------------------------------------------
    phone = await on_phone(browser, system, errors)
    await phone_shot(phone, "/admin/mailboxes", "mailboxes", broken)
    await phone_shot(phone, f"/admin/mailboxes/{mailbox['id']}", "mailbox", subject)
    await phone.context.close()

    # Deleted after a confirmation: gone, its ticket stays.
    await bad_row.get_by_role("button", name="Hapus").click()
    await expect(dialog).to_contain_text(broken)
    await dialog.get_by_role("button", name="Hapus").click()
    await expect(bad_row).to_be_hidden()
    names = [m["name"] for m in (await office.admin.ok("GET", f"{API}/mailboxes"))["items"]]
    assert broken not in names and name in names
    await page.context.close()
    assert errors == []
