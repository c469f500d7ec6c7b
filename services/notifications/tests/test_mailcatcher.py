"""The local mail catcher (deploy/local/mailcatcher.py) catches mail and shows it."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType

import aiosmtplib
import httpx
import pytest

from helpdesk_testing import eventually, free_port
from notifications.email.smtp import SmtpConnection
from notifications.settings_admin.service import SmtpConfig

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "local" / "mailcatcher.py"


@pytest.fixture(scope="module")
def catcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mailcatcher", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mailcatcher"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def mail(subject: str, to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Helpdesk Kominfo <helpdesk@localhost>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Tiket baru TKT-2026-000001\nbaris kedua")
    message.add_alternative("<p>Tiket <script>alert(1)</script>baru</p>", subtype="html")
    return message


async def test_caught_mail_is_listed_and_shown(catcher):
    store = catcher.MailStore(limit=3)
    port = free_port()
    server = await catcher.start_smtp(store, host="127.0.0.1", port=port)
    try:
        for n in range(4):
            await aiosmtplib.send(
                mail(f"Subjek <{n}>", f"user{n}@example.test"),
                hostname="127.0.0.1",
                port=port,
                username="any",
                password="thing",
                start_tls=False,
            )
    finally:
        server.close()
        await server.wait_closed()

    transport = httpx.ASGITransport(app=catcher.create_web_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://catcher") as client:
        listed = (await client.get("/api/messages")).json()
        # Capped at the newest three, newest first.
        assert [m["subject"] for m in listed] == ["Subjek <3>", "Subjek <2>", "Subjek <1>"]
        newest = listed[0]
        assert newest["rcpt_tos"] == ["user3@example.test"]
        assert newest["from"] == "Helpdesk Kominfo <helpdesk@localhost>"
        assert newest["text"] == "Tiket baru TKT-2026-000001\nbaris kedua\n"
        only = (await client.get("/api/messages", params={"to": "USER2@example.test"})).json()
        assert [m["subject"] for m in only] == ["Subjek <2>"]

        page = await client.get("/")
        assert page.status_code == 200
        assert "Subjek &lt;3&gt;" in page.text and f'href="/messages/{newest["id"]}"' in page.text

        detail = await client.get(f"/messages/{newest['id']}")
        assert "baris kedua" in detail.text and "<iframe sandbox" in detail.text
        body = await client.get(f"/messages/{newest['id']}/html")
        assert "sandbox" in body.headers["content-security-policy"]
        full = (await client.get(f"/api/messages/{newest['id']}")).json()
        assert "<script>" in full["html"] and "Subject: Subjek <3>" in full["source"]

        assert (await client.delete("/api/messages")).status_code == 204
        assert (await client.get("/api/messages")).json() == []
        assert (await client.get("/api/messages/999")).status_code == 404


async def test_the_command_line_starts_smtp_and_web(tmp_path):
    smtp_port, http_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--smtp-port",
        str(smtp_port),
        "--http-port",
        str(http_port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client:

            async def up() -> bool:
                try:
                    return (await client.get("/api/messages")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, timeout=15, interval=0.1)
            await aiosmtplib.send(
                mail("Uji CLI", "cli@example.test"), hostname="127.0.0.1", port=smtp_port
            )
            caught = (await client.get("/api/messages")).json()
            assert [m["subject"] for m in caught] == ["Uji CLI"]
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0


async def test_the_service_pipelines_to_the_catcher_and_any_address_form_is_kept(catcher):
    """The catcher offers PIPELINING (the service's client then uses it), and its quick
    address reading leaves anything but a plain <local@domain> to aiosmtpd's parser."""
    store = catcher.MailStore()
    port = free_port()
    server = await catcher.start_smtp(store, host="127.0.0.1", port=port)
    connection = SmtpConnection()
    settings = SmtpConfig(
        host="127.0.0.1",
        port=port,
        security="none",
        username=None,
        password=None,
        sender="Helpdesk <helpdesk@localhost>",
        timeout=3.0,
        validate_certs=True,
        source="environment",
    )
    try:
        await connection.send(
            settings, mail("Pipelined", "a@example.test").as_bytes(), recipient="a@example.test"
        )
        assert connection.pipelining
        # A quoted local part with a space: not a plain path, so aiosmtpd's parser reads it.
        await aiosmtplib.send(
            mail("Quoted", "x@example.test"),
            recipients=['"dua tiga"@example.test'],
            hostname="127.0.0.1",
            port=port,
        )
    finally:
        await connection.close()
        server.close()
        await server.wait_closed()
    assert [m.rcpt_tos for m in store.newest_first()] == [
        ['"dua tiga"@example.test'],
        ["a@example.test"],
    ]
    assert store.newest_first()[1].mail_from == "helpdesk@localhost"
