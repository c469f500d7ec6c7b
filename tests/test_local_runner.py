"""The README's start command: the whole system comes up, answers, and stops cleanly.

``deploy/local/up.py`` (what ``scripts/up`` ends in) runs as a real process tree on shifted
ports, with its own database and its own exchange / queue names, so it cannot disturb a copy
a developer has running. It is stopped with SIGINT at the end of the session and must exit 0.
"""

from __future__ import annotations

import asyncio
import imaplib
import io
import re
from urllib.parse import urlsplit

import httpx
import pytest
from minio import Minio

from helpdesk_testing import LocalSystem


async def test_start_command_prints_where_everything_is(system: LocalSystem) -> None:
    assert system.gateway_url and system.admin_password and system.mail_url, system.output
    assert system.startup_seconds > 0
    print(f"\nwhole system started in {system.startup_seconds:.1f}s")


async def test_every_service_answers_through_the_gateway(system: LocalSystem) -> None:
    gateway = system.gateway_url
    async with httpx.AsyncClient(timeout=10) as client:
        login = await client.post(
            f"{gateway}/api/identity/auth/login",
            json={"username": "admin", "password": system.admin_password},
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for path in (
            "/api/identity/auth/me",
            "/api/tickets/tickets",
            "/api/notifications/notifications",
        ):
            response = await client.get(f"{gateway}{path}", headers=headers)
            assert response.status_code == 200, (path, response.text)
        ready = await client.get(f"{gateway}/health/ready")
        assert ready.status_code == 200, ready.text
        page = await client.get(f"{gateway}/")
        assert page.status_code == 200 and "<html" in page.text.lower()


async def test_mail_catcher_and_s3_server_run(system: LocalSystem) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{system.mail_url}/api/messages")).status_code == 200
        # An S3 server answers (403 to an unsigned request is an S3 answer).
        assert system.s3_url
        assert (await client.get(f"{system.s3_url}/")).status_code in (200, 403)


def _s3_round_trip(endpoint: str) -> bytes:
    client = Minio(endpoint, access_key="helpdesk", secret_key="helpdesk-local", secure=False)
    assert client.bucket_exists("helpdesk-attachments")
    payload = b"%PDF-1.4 berita acara"
    client.put_object(
        "helpdesk-attachments", "probe/berita-acara.pdf", io.BytesIO(payload), len(payload)
    )
    try:
        response = client.get_object("helpdesk-attachments", "probe/berita-acara.pdf")
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()
    finally:
        client.remove_object("helpdesk-attachments", "probe/berita-acara.pdf")


async def test_s3_server_stores_and_returns_objects(system: LocalSystem) -> None:
    """The started S3 server has the attachments bucket and keeps what is put in it."""
    assert system.s3_url
    endpoint = urlsplit(system.s3_url).netloc
    assert await asyncio.to_thread(_s3_round_trip, endpoint) == b"%PDF-1.4 berita acara"


def _imap_round_trip(address: str, password: str) -> tuple[bytes, int]:
    """Log in as the banner says, append a message and read it back."""
    host, port = address.rsplit(":", 1)
    client = imaplib.IMAP4(host, int(port), timeout=10)
    try:
        client.login("helpdesk@localhost", password)
        raw = b"From: budi@example.com\r\nSubject: Uji kotak surat\r\n\r\nHalo.\r\n"
        typ, data = client.append("INBOX", None, None, raw)
        assert typ == "OK", data
        uid = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
        assert uid is not None, data
        client.select("INBOX")
        typ, fetched = client.uid("FETCH", uid.group(1).decode(), "(BODY.PEEK[])")
        assert typ == "OK" and isinstance(fetched[0], tuple), fetched
        client.uid("STORE", uid.group(1).decode(), "+FLAGS", "(\\Deleted)")
        client.expunge()
        return fetched[0][1], len(raw)
    finally:
        client.logout()


async def test_imap_mailbox_of_the_banner_takes_mail(system: LocalSystem) -> None:
    """The local IMAP server (Dovecot) runs with the mailbox the banner names, for an
    administrator to add under Kotak surat; a wrong password is refused."""
    assert system.imap_address and system.imap_password, system.output[-40:]
    assert system.state_dir is not None
    assert (system.state_dir / "imap-password").read_text().strip() == system.imap_password
    body, size = await asyncio.to_thread(
        _imap_round_trip, system.imap_address, system.imap_password
    )
    assert body.startswith(b"From: budi@example.com") and len(body) == size
    with pytest.raises(imaplib.IMAP4.error):
        await asyncio.to_thread(_imap_round_trip, system.imap_address, "not-the-password")
