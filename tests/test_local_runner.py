"""The README's start command: the whole system comes up, answers, and stops cleanly.

``deploy/local/up.py`` (what ``scripts/up`` ends in) runs as a real process tree on shifted
ports, with its own database and its own exchange / queue names, so it cannot disturb a copy
a developer has running. It is stopped with SIGINT at the end of the session and must exit 0.
"""

from __future__ import annotations

import asyncio
import io
from urllib.parse import urlsplit

import httpx
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
