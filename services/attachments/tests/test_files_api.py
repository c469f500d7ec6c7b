"""The files API on the real PostgreSQL, RabbitMQ, S3 server and clamd: upload, list,
download (ranges, headers), refusals, scanning, access by unit, deletion."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from pathlib import Path

import sqlalchemy as sa
from PIL import Image

from attachments.files.models import Attachment
from helpdesk_common.outbox import outbox_table
from helpdesk_testing.clamd import EICAR

from .conftest import World, pdf_bytes, png_bytes, running_attachments

ELF = Path("/bin/true").read_bytes()  # an executable, to be renamed .pdf


async def test_upload_list_and_download_a_photo(world: World):
    unit = uuid.uuid4()
    requester = world.person("requester", unit_id=unit, name="Rina")
    ticket = await world.ticket(unit_id=unit)
    content = png_bytes()
    response = await world.upload(requester, ticket, content, "Foto Ruang Server (1).png")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["filename"] == "Foto Ruang Server (1).png"
    assert body["media_type"] == "image/png"
    assert body["type"] == "png"
    assert body["kind"] == "supporting"
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["uploaded_by"]["name"] == "Rina"
    assert body["inline"] is True and body["has_thumbnail"] is True

    scanned = await world.scanned(body["id"], requester)
    assert scanned["scan_status"] == "clean" and scanned["downloadable"] is True

    listed = await world.client.get(f"/tickets/{ticket}/attachments", headers=requester.headers)
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]

    download = await world.client.get(body["content_url"], headers=requester.headers)
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("inline;")
    assert (
        "filename*=UTF-8''Foto%20Ruang%20Server%20%281%29.png"
        in download.headers["content-disposition"]
    )
    thumb = await world.client.get(body["thumbnail_url"], headers=requester.headers)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"


async def test_ranges_and_forced_download(world: World):
    unit = uuid.uuid4()
    agent = world.person("agent")
    ticket = await world.ticket(unit_id=unit)
    content = pdf_bytes()
    body = (
        await world.upload(
            agent, ticket, content, "Surat Tugas.pdf", kind="assignment_letter", raw=True
        )
    ).json()
    assert body["kind"] == "assignment_letter" and body["media_type"] == "application/pdf"
    url = body["content_url"]
    part = await world.client.get(url, headers={**agent.headers, "Range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.content == content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(content)}"
    tail = await world.client.get(url, headers={**agent.headers, "Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == content[-5:]
    beyond = await world.client.get(
        url, headers={**agent.headers, "Range": f"bytes={len(content)}-"}
    )
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(content)}"
    saved = await world.client.get(url, params={"download": "true"}, headers=agent.headers)
    assert saved.headers["content-disposition"].startswith("attachment;")
    assert saved.content == content


async def test_type_is_judged_by_content_not_by_name(world: World):
    unit = uuid.uuid4()
    requester = world.person("requester", unit_id=unit)
    ticket = await world.ticket(unit_id=unit)
    elf = ELF
    response = await world.upload(requester, ticket, elf, "laporan.pdf")
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_type"
    assert "application/x-" in error["message"]  # names the detected type
    html = await world.upload(requester, ticket, b"<html><script>alert(1)</script></html>", "x.png")
    assert html.status_code == 415
    assert "text/html" in html.json()["error"]["message"]
    # Nothing of a refused file is kept.
    async with world.app.state.runtime.sessionmaker() as session:
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(Attachment).where(Attachment.ticket_id == ticket)
        )
    assert count == 0


async def test_size_limit_is_413_naming_the_limit(make_settings, make_token, s3, clamd):

    async with running_attachments(
        make_settings, make_token, s3, clamd, max_file_bytes=100_000
    ) as small:
        unit = uuid.uuid4()
        requester = small.person("requester", unit_id=unit)
        ticket = await small.ticket(unit_id=unit)
        big = png_bytes((1200, 1200), "red") + b"\0" * 200_000
        response = await small.upload(requester, ticket, big, "besar.png")
        assert response.status_code == 413, response.text
        assert (
            "97.6562 KB" in response.json()["error"]["message"]
            or "100000 bytes" in response.json()["error"]["message"]
        )

        async def chunked():
            for _ in range(30):
                yield b"\0" * 10_000

        streamed = await small.client.post(
            f"/tickets/{ticket}/attachments",
            params={"filename": "x.zip"},
            content=chunked(),
            headers=requester.headers,
        )
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == "file_too_large"


async def test_malware_is_quarantined_and_never_served(world: World):
    unit = uuid.uuid4()
    requester = world.person("requester", unit_id=unit)
    agent = world.person("agent")
    ticket = await world.ticket(unit_id=unit, assignee_id=agent.user_id)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("catatan.txt", "biasa saja")
        zipped.writestr("eicar.com.txt", EICAR)
    body = (await world.upload(requester, ticket, archive.getvalue(), "berkas.zip")).json()
    assert body["scan_status"] == "pending"
    # While pending: staff may download (knowingly), the requester may not.
    scanned = await world.scanned(body["id"], agent)
    assert scanned["scan_status"] == "infected"
    assert "EICAR" in scanned["scan_signature"]
    assert scanned["downloadable"] is False
    for who in (requester, agent):
        refused = await world.client.get(body["content_url"], headers=who.headers)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "attachment_quarantined"
    as_requester = (
        await world.client.get(f"/attachments/{body['id']}", headers=requester.headers)
    ).json()
    assert as_requester["scan_signature"] is None  # malware names are for staff
    async with world.app.state.runtime.sessionmaker() as session:
        events = (
            (
                await session.execute(
                    sa.select(outbox_table.c.event_type).where(
                        outbox_table.c.body.contains(body["id"])
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(events) == ["attachment.added", "attachment.quarantined"]


async def test_requesters_see_only_their_units_files(world: World):
    unit, other = uuid.uuid4(), uuid.uuid4()
    owner = world.person("requester", unit_id=unit)
    stranger = world.person("requester", unit_id=other)
    leader = world.person("leader")
    ticket = await world.ticket(unit_id=unit)
    body = (await world.upload(owner, ticket, png_bytes(), "a.png")).json()
    for path in (
        f"/tickets/{ticket}/attachments",
        f"/attachments/{body['id']}",
        body["content_url"],
        body["thumbnail_url"],
    ):
        response = await world.client.get(path, headers=stranger.headers)
        assert response.status_code == 404, (path, response.text)
    assert (await world.upload(stranger, ticket, png_bytes(), "b.png")).status_code == 404
    deleted = await world.client.delete(f"/attachments/{body['id']}", headers=stranger.headers)
    assert deleted.status_code == 404
    # Leaders read, never write.
    assert (
        await world.client.get(f"/tickets/{ticket}/attachments", headers=leader.headers)
    ).status_code == 200
    refused = await world.upload(leader, ticket, png_bytes(), "c.png")
    assert refused.status_code == 403
    assert (
        await world.client.delete(f"/attachments/{body['id']}", headers=leader.headers)
    ).status_code == 403


async def test_closed_tickets_take_no_files_and_requesters_upload_no_evidence(world: World):
    unit = uuid.uuid4()
    requester = world.person("requester", unit_id=unit)
    closed = await world.ticket(unit_id=unit, status="closed")
    response = await world.upload(requester, closed, png_bytes(), "a.png")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ticket_closed"
    open_ticket = await world.ticket(unit_id=unit)
    evidence = await world.upload(requester, open_ticket, png_bytes(), "a.png", kind="evidence")
    assert evidence.status_code == 403
    assert evidence.json()["error"]["fields"][0]["field"] == "kind"
    bad_kind = await world.upload(requester, open_ticket, png_bytes(), "a.png", kind="lainnya")
    assert bad_kind.status_code == 422
    unknown = await world.upload(requester, uuid.uuid4(), png_bytes(), "a.png")
    assert unknown.status_code == 503  # the tickets service (to ask about it) is not there
    assert unknown.json()["error"]["code"] == "tickets_unavailable"


async def test_per_ticket_limits(make_settings, make_token, s3, clamd):

    async with running_attachments(
        make_settings, make_token, s3, clamd, max_files_per_ticket=2, max_ticket_bytes=3_000
    ) as limited:
        unit = uuid.uuid4()
        agent = limited.person("agent")
        ticket = await limited.ticket(unit_id=unit)
        small = b"catatan pekerjaan\n" * 50  # 900 bytes of text... not allowed: use zip
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
            zipped.writestr("a.txt", small)
        data = archive.getvalue()
        assert (await limited.upload(agent, ticket, data, "a.zip")).status_code == 201
        assert (await limited.upload(agent, ticket, data, "b.zip")).status_code == 201
        third = await limited.upload(agent, ticket, data, "c.zip")
        assert third.status_code == 409 and third.json()["error"]["code"] == "too_many_files"
        other = await limited.ticket(unit_id=unit)
        big = io.BytesIO()
        with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as zipped:
            zipped.writestr("b.bin", bytes(range(256)) * 13)
        too_much = await limited.upload(agent, other, big.getvalue(), "b.zip")
        assert too_much.status_code == 413
        assert too_much.json()["error"]["code"] == "ticket_files_too_large"


async def test_idempotency_key_gives_one_attachment(world: World):
    import asyncio

    unit = uuid.uuid4()
    requester = world.person("requester", unit_id=unit)
    ticket = await world.ticket(unit_id=unit)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    content = png_bytes(colour="navy")
    first, second = await asyncio.gather(
        world.upload(requester, ticket, content, "a.png", headers=key),
        world.upload(requester, ticket, content, "a.png", headers=key),
    )
    assert {first.status_code, second.status_code} == {201}
    assert first.json()["id"] == second.json()["id"]
    again = await world.upload(requester, ticket, content, "a.png", headers=key)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = await world.upload(requester, ticket, png_bytes(colour="red"), "a.png", headers=key)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    listed = await world.client.get(f"/tickets/{ticket}/attachments", headers=requester.headers)
    assert len(listed.json()["items"]) == 1


async def test_delete_policy_and_timeline_event(world: World):
    unit = uuid.uuid4()
    uploader = world.person("requester", unit_id=unit)
    colleague = world.person("requester", unit_id=unit)
    admin = world.person("admin")
    ticket = await world.ticket(unit_id=unit)
    first = (await world.upload(uploader, ticket, png_bytes(), "a.png")).json()
    second = (await world.upload(uploader, ticket, png_bytes(colour="red"), "b.png")).json()
    refused = await world.client.delete(f"/attachments/{first['id']}", headers=colleague.headers)
    assert refused.status_code == 403
    gone = await world.client.delete(f"/attachments/{first['id']}", headers=uploader.headers)
    assert gone.status_code == 204
    assert (
        await world.client.get(first["content_url"], headers=uploader.headers)
    ).status_code == 404
    # Resolved: only an administrator deletes.
    await world.ticket(unit_id=unit, ticket_id=ticket, status="resolved", version=2)
    late = await world.client.delete(f"/attachments/{second['id']}", headers=uploader.headers)
    assert late.status_code == 403
    by_admin = await world.client.delete(f"/attachments/{second['id']}", headers=admin.headers)
    assert by_admin.status_code == 204
    async with world.app.state.runtime.sessionmaker() as session:
        removed = (
            await session.execute(
                sa.select(sa.func.count())
                .select_from(outbox_table)
                .where(
                    outbox_table.c.event_type == "attachment.removed",
                    outbox_table.c.body.contains(str(ticket)),
                )
            )
        ).scalar()
    assert removed == 2


async def test_policy_tells_the_client_what_is_accepted(world: World):
    requester = world.person("requester", unit_id=uuid.uuid4())
    body = (await world.client.get("/policy", headers=requester.headers)).json()
    assert [t["name"] for t in body["allowed_types"]] == [
        "jpg",
        "png",
        "pdf",
        "docx",
        "xlsx",
        "zip",
    ]
    assert body["max_file_bytes"] == 10 * 1024 * 1024
    assert body["scan_enabled"] is True
    assert body["kinds"] == ["supporting"]
