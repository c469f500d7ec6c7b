"""A new file on a ticket (attachment.added) reaches its assignee once, by mail and in the
app, in their language; nobody hears of their own upload or of a ticket without assignee."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.attachments import (
    AttachmentAdded,
    AttachmentKind,
    AttachmentSnapshot,
    AttachmentTicket,
)
from helpdesk_common.contracts.tickets import Actor
from notifications.email.rendering import LANGUAGES, TEMPLATES, Renderer, file_size
from notifications.inapp.models import Notification
from notifications.routing.attachments import TEMPLATE
from notifications.routing.recipients import Recipient


async def world(service, *, assignee_language: str = "id") -> SimpleNamespace:
    unit = await service.add_unit(contact_email=f"kontak-{uuid.uuid4().hex[:8]}@example.test")
    return SimpleNamespace(
        unit=unit,
        requester=await service.add_user("requester", unit=unit, name="Siti Rahma"),
        assignee=await service.add_user("agent", language=assignee_language, name="Budi Santoso"),
    )


def added(
    w: SimpleNamespace,
    uploader: Any,
    *,
    assignee: Any | None = None,
    kind: AttachmentKind = "supporting",
    filename: str = "foto printer <rusak>.jpg",
    size: int = 1_572_864,
) -> AttachmentAdded:
    ticket_id = uuid.uuid4()
    return AttachmentAdded(
        attachment=AttachmentSnapshot(
            attachment_id=uuid.uuid4(),
            ticket_id=ticket_id,
            kind=kind,
            filename=filename,
            media_type="image/jpeg",
            size=size,
            sha256="ab" * 32,
            scan_status="clean",
            uploaded_by=uploader.user_id,
            uploaded_by_name=uploader.name,
            uploaded_at=datetime(2026, 3, 2, 2, 15, tzinfo=UTC),
        ),
        ticket=AttachmentTicket(
            ticket_id=ticket_id,
            number=f"TKT-2026-{uuid.uuid4().int % 1_000_000:06d}",
            title="Printer di ruang rapat tidak bisa mencetak",
            unit_id=w.unit.unit_id,
            requester_id=w.requester.user_id,
            assignee_id=assignee.user_id if assignee is not None else None,
            status="in_progress",
        ),
        actor=uploader.actor(),
    )


async def in_app_of(service, envelope: EventEnvelope) -> list[Notification]:
    async with service.sessionmaker() as session:
        rows = await session.scalars(
            sa.select(Notification).where(Notification.event_id == envelope.event_id)
        )
        return list(rows)


async def test_the_assignee_hears_of_a_new_file_once(service, smtp_sink):
    w = await world(service)
    event = added(w, w.requester, assignee=w.assignee)
    envelope = EventEnvelope.wrap(event, producer="attachments")
    await service.publish_envelope(envelope)
    await service.publish_envelope(envelope)  # the broker may deliver an event twice
    rows = await service.wait_sent(envelope)
    assert [r.recipient for r in rows] == [w.assignee.email]
    # A later event through the same queue is handled after the duplicate: then count.
    marker = await service.publish(added(w, w.requester, assignee=w.assignee))
    await service.wait_sent(marker)
    await asyncio.sleep(0.2)
    assert len(await service.deliveries(event_id=envelope.event_id)) == 1

    ticket = event.ticket
    mails = [
        m for m in smtp_sink.to(w.assignee.email) if m.subject.startswith(f"[{ticket.number}]")
    ]
    [mail] = mails
    link = f"https://helpdesk.example.test/#/tickets/{ticket.ticket_id}"
    assert mail.subject == f"[{ticket.number}] Berkas baru: {ticket.title}"
    assert mail.message["X-Helpdesk-Ticket"] == ticket.number
    text = mail.text
    assert "Yth. Budi Santoso" in text
    assert f"Siti Rahma melampirkan berkas baru pada tiket {ticket.number}" in text
    assert "Berkas    : foto printer <rusak>.jpg" in text
    assert "Jenis     : Dokumen pendukung" in text
    assert "Ukuran    : 1,5 MB" in text
    assert "Diunggah  : 02-03-2026 09:15 WIB" in text
    assert f"Judul     : {ticket.title}" in text
    assert link in text
    html = mail.html
    assert f'href="{link}"' in html
    assert "foto printer &lt;rusak&gt;.jpg" in html and "<rusak>" not in html

    [note] = await in_app_of(service, envelope)
    assert note.user_id == w.assignee.user_id
    assert note.title == mail.subject and note.link == link
    assert note.body == "Siti Rahma melampirkan foto printer <rusak>.jpg (1,5 MB)."
    # Only the assignee: neither the requester nor the unit's contact.
    assert smtp_sink.to(w.requester.email) == []
    assert smtp_sink.to(w.unit.contact_email) == []


async def test_an_english_assignee_reads_english(service, smtp_sink):
    w = await world(service, assignee_language="en")
    officer = await service.add_user("agent", name="Rina Kusuma")
    event = added(w, officer, assignee=w.assignee, kind="assignment_letter", size=48_000)
    rows = await service.wait_sent(await service.publish(event, producer="attachments"))
    assert [r.recipient for r in rows] == [w.assignee.email]
    [mail] = smtp_sink.to(w.assignee.email)
    assert mail.subject == f"[{event.ticket.number}] New file: {event.ticket.title}"
    assert "Dear Budi Santoso" in mail.text
    assert "Rina Kusuma attached a new file" in mail.text
    assert "Kind      : Assignment letter" in mail.text
    assert "Size      : 47 KB" in mail.text


@pytest.mark.parametrize("case", ["self_upload", "no_assignee", "inactive_assignee"])
async def test_nobody_is_told(service, smtp_sink, case: str):
    w = await world(service)
    if case == "self_upload":
        event = added(w, w.assignee, assignee=w.assignee, kind="evidence")
    elif case == "no_assignee":
        event = added(w, w.requester)
    else:
        gone = await service.add_user("agent", active=False)
        event = added(w, w.requester, assignee=gone)
    envelope = await service.publish(event, producer="attachments")
    # Deliveries and notices are written in the inbox transaction: once it is committed,
    # there is nothing more to come.
    await service.wait_processed(envelope)
    assert await service.deliveries(event_id=envelope.event_id) == []
    assert await in_app_of(service, envelope) == []


async def test_an_assignee_missing_from_the_directory_gets_the_in_app_notice(service):
    w = await world(service)
    stranger = SimpleNamespace(user_id=uuid.uuid4(), name="Belum Sinkron")
    envelope = await service.publish(
        added(w, w.requester, assignee=stranger), producer="attachments"
    )
    assert await service.wait_sent(envelope) == []
    [note] = await in_app_of(service, envelope)
    assert note.user_id == stranger.user_id


def test_the_template_exists_in_both_languages_and_formats():
    for language in LANGUAGES:
        for extension in ("txt", "html"):
            assert (TEMPLATES / language / f"{TEMPLATE}.{extension}").is_file()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_ticket_without_number_or_title_still_renders(language: str):
    user_id = uuid.uuid4()
    actor = Actor(user_id=user_id, name="Andi", role="agent")
    uploader = SimpleNamespace(user_id=user_id, name="Andi", actor=lambda: actor)
    event = added(
        SimpleNamespace(unit=SimpleNamespace(unit_id=None), requester=uploader), uploader
    ).model_copy(update={"ticket": AttachmentTicket(ticket_id=uuid.uuid4())})
    rendered = Renderer().render(
        TEMPLATE,
        language=language,
        context={
            "brand": "Helpdesk Kominfo",
            "recipient": Recipient("assignee", "Budi", language, "budi@example.test", None),
            "ticket": None,
            "event": event,
            "attachment": event.attachment,
            "actor": event.actor,
            "link": "https://helpdesk.example/#/tickets/1",
        },
    )
    assert rendered.subject.endswith(": foto printer <rusak>.jpg")
    assert "None" not in rendered.subject + rendered.text + rendered.html


@pytest.mark.parametrize(
    ("size", "mark", "expected"),
    [
        (0, ",", "0 B"),
        (1023, ",", "1023 B"),
        (1536, ",", "1,5 KB"),
        (1536, ".", "1.5 KB"),
        (48_000, ".", "47 KB"),
        (1_572_864, ",", "1,5 MB"),
        (25 * 1024**2, ",", "25 MB"),
        (3 * 1024**3, ".", "3.0 GB"),
    ],
)
def test_file_sizes_read_as_people_write_them(size: int, mark: str, expected: str):
    assert file_size(size, decimal_mark=mark) == expected
