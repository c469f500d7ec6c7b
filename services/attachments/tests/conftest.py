"""Fixtures of the attachments tests: the app on the real PostgreSQL and RabbitMQ, a real
S3 server (SeaweedFS) and a real clamd (the session's, with the EICAR signature)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from attachments.main import create_app
from attachments.settings import AttachmentsSettings
from attachments.tickets.service import upsert_snapshot
from helpdesk_common.contracts.tickets import TicketSnapshot
from helpdesk_testing import app_client, eventually
from helpdesk_testing.clamd import ClamdProcess
from helpdesk_testing.net import free_port
from helpdesk_testing.s3 import ACCESS_KEY, SECRET_KEY, S3Server, running_s3


@pytest.fixture(scope="session")
async def s3(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[S3Server]:
    async with running_s3(tmp_path_factory.mktemp("s3")) as server:
        yield server


def png_bytes(size: tuple[int, int] = (64, 48), colour: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), "white").save(buffer, "PDF")
    return buffer.getvalue()


@dataclass
class Person:
    role: str
    user_id: uuid.UUID
    unit_id: uuid.UUID | None
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    make_token: Callable[..., str]

    @property
    def settings(self) -> AttachmentsSettings:
        return self.app.state.runtime.settings

    def person(self, role: str, *, unit_id: uuid.UUID | None = None, name: str = "") -> Person:
        user_id = uuid.uuid4()
        name = name or f"{role.title()} {user_id.hex[:4]}"
        token = self.make_token(role, user_id=user_id, unit_id=unit_id, name=name)
        return Person(role=role, user_id=user_id, unit_id=unit_id, token=token)

    async def ticket(self, *, unit_id: uuid.UUID, status: str = "new", **values: Any) -> uuid.UUID:
        """A ticket as its events would show it, put straight into the local copy."""
        ticket_id = values.pop("ticket_id", uuid.uuid4())
        snapshot = TicketSnapshot(
            ticket_id=ticket_id,
            number=f"TKT-{ticket_id.hex[:6]}",
            title="Jaringan putus",
            status=status,  # type: ignore[arg-type]
            priority="medium",
            unit_id=unit_id,
            created_at="2026-12-01T02:00:00Z",  # type: ignore[arg-type]
            version=values.pop("version", 1),
            **values,
        )
        async with self.app.state.runtime.sessionmaker() as session, session.begin():
            await upsert_snapshot(session, ticket=snapshot)
        return ticket_id

    async def upload(
        self,
        who: Person,
        ticket_id: uuid.UUID,
        content: bytes,
        filename: str = "bukti.png",
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bool = False,
    ) -> httpx.Response:
        url = f"/tickets/{ticket_id}/attachments"
        all_headers = {**who.headers, **(headers or {})}
        if raw:
            params = {"filename": filename, **({"kind": kind} if kind else {})}
            return await self.client.post(url, content=content, params=params, headers=all_headers)
        data = {"kind": kind} if kind else {}
        return await self.client.post(
            url, files={"file": (filename, content)}, data=data, headers=all_headers
        )

    async def scanned(self, attachment_id: str, who: Person) -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            response = await self.client.get(f"/attachments/{attachment_id}", headers=who.headers)
            body = response.json()
            return None if body["scan_status"] == "pending" else body

        return await eventually(done, timeout=20, interval=0.1)


def attachments_settings(
    make_settings: Callable[..., Any], s3: S3Server, clamd: ClamdProcess | None, **overrides: Any
) -> AttachmentsSettings:
    values: dict[str, Any] = {
        "s3_endpoint": s3.endpoint,
        "s3_access_key": ACCESS_KEY,
        "s3_secret_key": SECRET_KEY,
        "s3_bucket": f"attachments-{uuid.uuid4().hex[:8]}",
        "scan_enabled": clamd is not None,
        "clamd_host": clamd.host if clamd else "127.0.0.1",
        "clamd_port": clamd.port if clamd else 1,
        "clamd_timeout_seconds": 5.0,
        "scan_poll_seconds": 0.3,
        # No tickets service in these tests: a ticket unknown here cannot be looked up.
        "tickets_url": f"http://127.0.0.1:{free_port()}",
        "internal_token": "internal-test-token-0123456789",
    }
    values.update(overrides)
    return make_settings(
        AttachmentsSettings,
        schema=f"attachments_{uuid.uuid4().hex[:8]}",
        queue_prefix=f"attachments.{uuid.uuid4().hex[:6]}.",
        **values,
    )


@asynccontextmanager
async def running_attachments(
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
    s3: S3Server,
    clamd: ClamdProcess | None,
    **overrides: Any,
) -> AsyncIterator[World]:
    app = create_app(attachments_settings(make_settings, s3, clamd, **overrides))
    async with app_client(app) as client:
        await eventually(lambda: app.state.runtime.consumers_started, timeout=20)
        yield World(app=app, client=client, make_token=make_token)


@pytest.fixture(scope="module")
async def world(
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
    s3: S3Server,
    clamd: ClamdProcess,
) -> AsyncIterator[World]:
    async with running_attachments(make_settings, make_token, s3, clamd) as started:
        yield started


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path
