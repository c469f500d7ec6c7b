"""The client of the attachments service's internal upload (intake/attachments_api.py)
against a real attachments service (served on loopback, with the real PostgreSQL,
RabbitMQ, an S3 server and clamd): stored, stored once, refused for good, unavailable."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from PIL import Image

from attachments.files.models import Attachment
from attachments.main import create_app as create_attachments_app
from attachments.settings import AttachmentsSettings
from attachments.tickets.service import upsert_snapshot
from helpdesk_common.contracts.identity import UserCreated
from helpdesk_common.contracts.tickets import TicketSnapshot
from helpdesk_common.directory.service import upsert_user
from helpdesk_testing import eventually
from helpdesk_testing.clamd import ClamdProcess
from helpdesk_testing.net import free_port, serve_http
from helpdesk_testing.s3 import ACCESS_KEY, SECRET_KEY, S3Server, running_s3
from integrations.intake.attachments_api import (
    NO_SERVICE,
    Attached,
    AttachmentsUnavailable,
    attach_file,
)

from .conftest import INTERNAL_TOKEN, World, running_integrations

ELF = Path("/bin/true").read_bytes()


def png_bytes(colour: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class AttachmentsService:
    app: FastAPI
    url: str

    async def ticket(self, *, status: str = "new", version: int = 1, **values: Any) -> uuid.UUID:
        """A ticket in the attachments service's copy, as the tickets' events would put it."""
        ticket_id = values.pop("ticket_id", uuid.uuid4())
        snapshot = TicketSnapshot(
            ticket_id=ticket_id,
            number=f"TKT-{ticket_id.hex[:6]}",
            title="Printer macet",
            status=status,  # type: ignore[arg-type]
            priority="medium",
            unit_id=values.pop("unit_id", uuid.uuid4()),
            created_at=datetime.now(UTC),
            version=version,
            **values,
        )
        async with self.app.state.runtime.sessionmaker() as session, session.begin():
            await upsert_snapshot(session, ticket=snapshot)
        return ticket_id

    async def user(self, *, name: str, unit_id: uuid.UUID) -> uuid.UUID:
        """A requester in the attachments service's directory replica."""
        user_id = uuid.uuid4()
        snapshot = UserCreated(
            user_id=user_id,
            username=f"u{user_id.hex[:10]}",
            full_name=name,
            email=f"{user_id.hex[:8]}@contoh.go.id",
            role="requester",
            unit_id=unit_id,
            is_active=True,
            revision=1,
            updated_at=datetime.now(UTC),
        )
        async with self.app.state.runtime.sessionmaker() as session, session.begin():
            await upsert_user(session, snapshot=snapshot)
        return user_id

    async def files(self, ticket_id: uuid.UUID) -> list[Attachment]:
        async with self.app.state.runtime.sessionmaker() as session:
            rows = await session.scalars(
                sa.select(Attachment).where(Attachment.ticket_id == ticket_id)
            )
            return list(rows.all())


def attachments_settings(
    make_settings: Callable[..., Any], s3: S3Server, clamd: ClamdProcess
) -> AttachmentsSettings:
    settings: AttachmentsSettings = make_settings(
        AttachmentsSettings,
        schema=f"attachments_{uuid.uuid4().hex[:8]}",
        queue_prefix=f"attachments.{uuid.uuid4().hex[:6]}.",
        s3_endpoint=s3.endpoint,
        s3_access_key=ACCESS_KEY,
        s3_secret_key=SECRET_KEY,
        s3_bucket=f"attachments-{uuid.uuid4().hex[:8]}",
        clamd_host=clamd.host,
        clamd_port=clamd.port,
        scan_poll_seconds=0.3,
        # No tickets service: every ticket of these tests is put into the local copy.
        tickets_url=f"http://127.0.0.1:{free_port()}",
        internal_token=INTERNAL_TOKEN,
    )
    return settings


@pytest.fixture(scope="module")
async def attachments_service(
    make_settings: Callable[..., Any],
    clamd: ClamdProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[AttachmentsService]:
    """The real attachments service on a loopback port, as the integrations service
    reaches it in a deployment."""
    async with running_s3(tmp_path_factory.mktemp("s3")) as s3:
        app = create_attachments_app(attachments_settings(make_settings, s3, clamd))
        async with serve_http(app) as url:
            await eventually(lambda: app.state.runtime.consumers_started, timeout=20)
            yield AttachmentsService(app=app, url=url)


@pytest.fixture(scope="module")
async def world(
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
    attachments_service: AttachmentsService,
) -> AsyncIterator[World]:
    async with running_integrations(
        make_settings, make_token, attachments_url=attachments_service.url
    ) as started:
        yield started


async def attach(world: World, ticket_id: uuid.UUID, **values: Any) -> Attached:
    arguments: dict[str, Any] = {
        "source_key": f"mail:{uuid.uuid4()}:<m@contoh.id>:1",
        "filename": "foto.png",
        "content": png_bytes(),
        "media_type": "image/png",
        "uploaded_by": None,
        "uploaded_by_name": "Budi Santoso",
    }
    arguments.update(values)
    return await attach_file(world.runtime, ticket_id=ticket_id, **arguments)


async def test_a_file_is_stored_once(world: World, attachments_service: AttachmentsService) -> None:
    ticket = await attachments_service.ticket()
    key = f"mail:{uuid.uuid4()}:<a1@contoh.id>:2"
    first = await attach(world, ticket, source_key=key)
    assert first.ok and first.attachment_id is not None
    assert first.code is None and first.message is None
    again = await attach(world, ticket, source_key=key)
    assert again == first
    (row,) = await attachments_service.files(ticket)
    assert row.id == first.attachment_id
    assert (row.kind, row.uploaded_by_name, row.uploaded_by_role) == (
        "supporting",
        "Budi Santoso",
        "system",
    )
    assert row.source_key == key


async def test_a_users_file_is_theirs(
    world: World, attachments_service: AttachmentsService
) -> None:
    unit = uuid.uuid4()
    ticket = await attachments_service.ticket(unit_id=unit)
    rina = await attachments_service.user(name="Rina Wati", unit_id=unit)
    stored = await attach(world, ticket, uploaded_by=rina, uploaded_by_name="rina@contoh.go.id")
    assert stored.ok, stored
    (row,) = await attachments_service.files(ticket)
    assert (row.uploaded_by, row.uploaded_by_name, row.uploaded_by_role) == (
        rina,
        "Rina Wati",
        "requester",
    )


async def test_refusals_are_answers_not_errors(
    world: World, attachments_service: AttachmentsService
) -> None:
    ticket = await attachments_service.ticket()
    executable = await attach(world, ticket, filename="laporan.pdf", content=ELF)
    assert not executable.ok and executable.attachment_id is None
    assert executable.code == "unsupported_type"
    assert executable.message and "application/x-" in executable.message
    closed = await attachments_service.ticket(status="closed")
    refused = await attach(world, closed)
    assert (refused.ok, refused.code) == (False, "ticket_closed")
    assert await attachments_service.files(ticket) == []
    assert await attachments_service.files(closed) == []


async def test_what_a_mail_may_carry_is_made_sendable(
    world: World, attachments_service: AttachmentsService
) -> None:
    """A garbled Content-Type (a header injection), a NUL in the file name, a sender name
    past the limit: the file is still stored (the type is judged by content anyway)."""
    ticket = await attachments_service.ticket()
    stored = await attach(
        world,
        ticket,
        media_type="image/png\r\nX-Injected: 1",
        filename="foto\x00.png",
        uploaded_by_name="B" * 500,
    )
    assert stored.ok, stored
    (row,) = await attachments_service.files(ticket)
    assert row.filename == "foto.png" and row.type_name == "png"
    assert row.uploaded_by_name == "B" * 200


async def test_unavailable_means_try_again(
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
    world: World,
    attachments_service: AttachmentsService,
) -> None:
    ticket = await attachments_service.ticket()
    # A user the attachments service has not heard of yet (its replica is behind): 503.
    with pytest.raises(AttachmentsUnavailable, match="503"):
        await attach(world, ticket, uploaded_by=uuid.uuid4())
    # Nobody listening.
    async with running_integrations(
        make_settings, make_token, attachments_url=f"http://127.0.0.1:{free_port()}"
    ) as down:
        with pytest.raises(AttachmentsUnavailable, match="unreachable"):
            await attach(down, ticket)
    # A wrong internal token is this deployment's mistake, not the file's: try again later.
    async with running_integrations(
        make_settings,
        make_token,
        attachments_url=attachments_service.url,
        internal_token="another-token-0123456789abcdef",
    ) as misconfigured:
        with pytest.raises(AttachmentsUnavailable, match="invalid_internal_token"):
            await attach(misconfigured, ticket)
    assert await attachments_service.files(ticket) == []


async def test_without_an_attachments_service(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    async with running_integrations(make_settings, make_token, attachments_url="") as alone:
        result = await attach(alone, uuid.uuid4())
    assert result == Attached(
        ok=False,
        attachment_id=None,
        code=NO_SERVICE,
        message="No attachments service is configured; the file was not stored",
    )
