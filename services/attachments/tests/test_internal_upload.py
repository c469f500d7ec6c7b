"""The internal upload (``POST /internal/tickets/{id}/attachments``, the intake channels'
way to store a mail's or chat message's files) on the real PostgreSQL, RabbitMQ, S3 server
and clamd: the internal token, the uploader (a user of the directory, checked as that
user; or the intake system), the same checks as a user's upload, idempotency by source key
(also concurrent), the event."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from attachments.files.models import Attachment
from attachments.files.service import INTAKE_UPLOADER_ID
from helpdesk_common.contracts.identity import Role, UserCreated
from helpdesk_common.directory.service import upsert_user
from helpdesk_common.outbox import outbox_table
from helpdesk_testing.clamd import EICAR

from .conftest import World, pdf_bytes, png_bytes, running_attachments

TOKEN = "internal-test-token-0123456789"
ELF = Path("/bin/true").read_bytes()


async def intake_upload(
    world: World,
    ticket_id: uuid.UUID,
    content: bytes,
    *,
    source_key: str | None = None,
    filename: str = "lampiran.png",
    uploaded_by: uuid.UUID | None = None,
    name: str = "Budi <budi@contoh.id>",
    content_type: str = "application/octet-stream",
    token: str | None = TOKEN,
    **params: Any,
) -> httpx.Response:
    query = {
        "filename": filename,
        "source_key": source_key or f"mail:test:{uuid.uuid4()}",
        "uploaded_by": str(uploaded_by) if uploaded_by else "",
        "uploaded_by_name": name,
        **params,
    }
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["X-Internal-Token"] = token
    return await world.client.post(
        f"/internal/tickets/{ticket_id}/attachments",
        content=content,
        params=query,
        headers=headers,
    )


async def directory_user(
    world: World,
    role: Role,
    *,
    unit_id: uuid.UUID | None,
    name: str,
    active: bool = True,
) -> uuid.UUID:
    user_id = uuid.uuid4()
    snapshot = UserCreated(
        user_id=user_id,
        username=f"u{user_id.hex[:10]}",
        full_name=name,
        email=f"{user_id.hex[:8]}@contoh.go.id",
        role=role,
        unit_id=unit_id,
        is_active=active,
        revision=1,
        updated_at=datetime.now(UTC),
    )
    async with world.app.state.runtime.sessionmaker() as session, session.begin():
        await upsert_user(session, snapshot=snapshot)
    return user_id


async def rows_of(world: World, ticket_id: uuid.UUID) -> list[Attachment]:
    async with world.app.state.runtime.sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    sa.select(Attachment).where(Attachment.ticket_id == ticket_id)
                )
            ).all()
        )


async def events_of(world: World, attachment_id: str) -> list[dict[str, Any]]:
    async with world.app.state.runtime.sessionmaker() as session:
        rows = (
            await session.execute(
                sa.select(outbox_table.c.event_type, outbox_table.c.body).where(
                    outbox_table.c.body.contains(attachment_id)
                )
            )
        ).all()
    return [{"type": row.event_type, **json.loads(row.body)["payload"]} for row in rows]


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_a_senders_file_is_stored_by_the_intake_once(world: World) -> None:
    unit = uuid.uuid4()
    staff = world.person("agent")
    ticket = await world.ticket(unit_id=unit)
    content = png_bytes()
    key = f"mail:{uuid.uuid4()}:<abc@contoh.id>:2"
    first = await intake_upload(world, ticket, content, source_key=key, filename="foto.png")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["kind"] == "supporting" and body["type"] == "png"
    assert body["uploaded_by"] == {
        "id": str(INTAKE_UPLOADER_ID),
        "name": "Budi <budi@contoh.id>",
        "role": "system",
    }
    # Scanned like any upload; visible to staff through the usual API.
    scanned = await world.scanned(body["id"], staff)
    assert scanned["scan_status"] == "clean" and scanned["downloadable"] is True

    # attachment.added, the system as the actor under the sender's name.
    events = await events_of(world, body["id"])
    assert [event["type"] for event in events] == ["attachment.added"]
    assert events[0]["actor"] == {
        "user_id": str(INTAKE_UPLOADER_ID),
        "name": "Budi <budi@contoh.id>",
        "role": "system",
    }

    # The same source key again: the first file (200), nothing new, no second event; also
    # once the ticket is closed (a retry after a crash must not turn into a refusal).
    again = await intake_upload(world, ticket, content, source_key=key, filename="foto.png")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == body["id"]
    await world.ticket(unit_id=unit, ticket_id=ticket, status="closed", version=2)
    later = await intake_upload(world, ticket, content, source_key=key, filename="foto.png")
    assert later.status_code == 200 and later.json()["id"] == body["id"]
    assert [row.id for row in await rows_of(world, ticket)] == [uuid.UUID(body["id"])]
    assert len(await events_of(world, body["id"])) == 1

    # A new source key on the closed ticket is refused as a user's upload would be.
    closed = await intake_upload(world, ticket, content)
    assert closed.status_code == 409 and error_of(closed)["code"] == "ticket_closed"

    # The key naming another ticket's file is a mistake of the caller's, not a repeat.
    other = await world.ticket(unit_id=unit)
    reused = await intake_upload(world, other, content, source_key=key)
    assert reused.status_code == 422
    assert error_of(reused)["code"] == "source_key_reused"
    assert error_of(reused)["fields"][0]["field"] == "source_key"
    assert await rows_of(world, other) == []


async def test_concurrent_calls_with_one_source_key_store_one_file(world: World) -> None:
    ticket = await world.ticket(unit_id=uuid.uuid4())
    key = f"chat:{uuid.uuid4()}:wamid.1"
    content = pdf_bytes()
    responses = await asyncio.gather(
        *(
            intake_upload(world, ticket, content, source_key=key, filename="surat.pdf")
            for _ in range(4)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 200, 200, 201], [r.text for r in responses]
    assert len({response.json()["id"] for response in responses}) == 1
    assert len(await rows_of(world, ticket)) == 1


async def test_a_users_file_is_theirs_and_checked_as_theirs(world: World) -> None:
    unit, elsewhere = uuid.uuid4(), uuid.uuid4()
    ticket = await world.ticket(unit_id=unit)
    rina = await directory_user(world, "requester", unit_id=unit, name="Rina Wati")
    response = await intake_upload(world, ticket, png_bytes(), uploaded_by=rina, name="rina@x.id")
    assert response.status_code == 201, response.text
    assert response.json()["uploaded_by"] == {
        "id": str(rina),
        "name": "Rina Wati",
        "role": "requester",
    }
    events = await events_of(world, response.json()["id"])
    assert events[0]["actor"]["user_id"] == str(rina)

    # A requester of another unit does not see the ticket (404, as for their own upload);
    # a leader reads only; a disabled account uploads nothing.
    stranger = await directory_user(world, "requester", unit_id=elsewhere, name="Orang Lain")
    leader = await directory_user(world, "leader", unit_id=None, name="Pimpinan")
    gone = await directory_user(world, "agent", unit_id=None, name="Mantan", active=False)
    for user_id, status, code in (
        (stranger, 404, "ticket_not_found"),
        (leader, 403, "read_only_role"),
        (gone, 403, "uploader_inactive"),
    ):
        refused = await intake_upload(world, ticket, png_bytes(), uploaded_by=user_id)
        assert refused.status_code == status, refused.text
        assert error_of(refused)["code"] == code
    # A user this service has not heard of yet (its directory replica is behind): try
    # again later, nothing stored.
    unknown = await intake_upload(world, ticket, png_bytes(), uploaded_by=uuid.uuid4())
    assert unknown.status_code == 503
    assert error_of(unknown)["code"] == "uploader_unknown"
    assert len(await rows_of(world, ticket)) == 1


async def test_the_same_checks_as_a_users_upload(world: World) -> None:
    ticket = await world.ticket(unit_id=uuid.uuid4())
    # The type by content, whatever the name or the Content-Type say.
    elf = await intake_upload(
        world, ticket, ELF, filename="laporan.pdf", content_type="application/pdf"
    )
    assert elf.status_code == 415 and error_of(elf)["code"] == "unsupported_type"
    # The body is the file even if the Content-Type claims a form.
    form = await intake_upload(
        world, ticket, png_bytes(), content_type="multipart/form-data; boundary=x"
    )
    assert form.status_code == 201 and form.json()["type"] == "png"
    # Malware is stored and quarantined by the scan, as for users.
    eicar = await intake_upload(world, ticket, EICAR, filename="virus.txt")
    if eicar.status_code == 201:
        staff = world.person("agent")
        scanned = await world.scanned(eicar.json()["id"], staff)
        assert scanned["scan_status"] == "infected"
    else:  # text files off the allow-list: refused by type
        assert eicar.status_code == 415
    assert len(await rows_of(world, ticket)) == 1 + (eicar.status_code == 201)


async def test_limits(make_settings, make_token, s3) -> None:
    async with running_attachments(
        make_settings, make_token, s3, None, max_file_bytes=100_000, max_files_per_ticket=1
    ) as small:
        ticket = await small.ticket(unit_id=uuid.uuid4())
        big = png_bytes((1200, 1200), "red") + b"\0" * 200_000
        too_large = await intake_upload(small, ticket, big, filename="besar.png")
        assert too_large.status_code == 413, too_large.text
        assert error_of(too_large)["code"] == "file_too_large"
        assert error_of(too_large)["limit_bytes"] == 100_000
        assert (await intake_upload(small, ticket, png_bytes())).status_code == 201
        full = await intake_upload(small, ticket, png_bytes())
        assert full.status_code == 409 and error_of(full)["code"] == "too_many_files"
        assert len(await rows_of(small, ticket)) == 1


async def test_only_with_the_internal_token(world: World) -> None:
    ticket = await world.ticket(unit_id=uuid.uuid4())
    for token in (None, "wrong-token"):
        response = await intake_upload(world, ticket, png_bytes(), token=token)
        assert response.status_code == 401
        assert error_of(response)["code"] == "invalid_internal_token"
    # A user's bearer token is no internal token.
    agent = world.person("agent")
    response = await world.client.post(
        f"/internal/tickets/{ticket}/attachments",
        content=png_bytes(),
        params={"filename": "a.png", "source_key": "k", "uploaded_by_name": "x"},
        headers=agent.headers,
    )
    assert response.status_code == 401
    assert await rows_of(world, ticket) == []


async def test_bad_queries_are_refused_naming_the_field(world: World) -> None:
    ticket = await world.ticket(unit_id=uuid.uuid4())
    cases: list[tuple[dict[str, str], str]] = [
        ({"uploaded_by": "not-a-uuid"}, "uploaded_by"),
        ({"uploaded_by_name": ""}, "uploaded_by_name"),
        ({"source_key": ""}, "source_key"),
        ({"source_key": "mail:\x00"}, "source_key"),
        ({"filename": ""}, "filename"),
    ]
    for params, field in cases:
        query = {"filename": "a.png", "source_key": "k1", "uploaded_by_name": "Budi", **params}
        response = await world.client.post(
            f"/internal/tickets/{ticket}/attachments",
            content=png_bytes(),
            params=query,
            headers={"X-Internal-Token": TOKEN},
        )
        assert response.status_code == 422, (params, response.text)
        fields = [item["field"] for item in error_of(response)["fields"]]
        assert field in fields, (params, fields)
    assert await rows_of(world, ticket) == []


async def test_a_ticket_not_known_here_needs_the_tickets_service(world: World) -> None:
    # No tickets service in these tests: the lookup fails, 503 (the caller tries again).
    response = await intake_upload(world, uuid.uuid4(), png_bytes())
    assert response.status_code == 503
    assert error_of(response)["code"] == "tickets_unavailable"
