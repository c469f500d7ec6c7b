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
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
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
    await url.fill(f"http://127.0.0.1:{receiver.port}/hook")
    # No event type ticked: said under the list, nothing sent.
    await dialog.get_by_role("button", name="Buat").click()
    await expect(dialog.locator(".field-error:visible")).to_have_text(
        "Pilih minimal satu jenis peristiwa."
    )
    names = [w["name"] for w in (await office.admin.ok("GET", f"{API}/webhooks"))["items"]]
    assert f"Penerima {office.tag}" not in names
    await dialog.get_by_label("Tiket dibuat").check()
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
    await dialog.get_by_role("button", name="Buat").click()
    await expect(page).to_have_url(re.compile(r"#/admin/channels/[0-9a-f-]{36}$"))
    channel_id = page.url.rsplit("/", 1)[1]
    hook_url = await page.get_by_label("Alamat webhook").input_value()
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
