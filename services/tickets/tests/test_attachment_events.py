"""The attachments service's events (consumer ``tickets.attachments``), published through the
real broker: the ticket's timeline, the table ``ticket_attachments``, redelivery and order of
arrival, and the files listed on the submission form."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from prometheus_client import REGISTRY
from pypdf import PdfReader

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.attachments import (
    AttachmentAdded,
    AttachmentEvent,
    AttachmentKind,
    AttachmentQuarantined,
    AttachmentRemoved,
    AttachmentSnapshot,
    AttachmentTicket,
)
from helpdesk_common.contracts.tickets import Actor
from helpdesk_common.outbox import inbox_table
from helpdesk_testing import eventually
from tickets.attachments.consumer import CONSUMER_NAME
from tickets.attachments.models import TicketAttachment
from tickets.documents.service import describe, file_size
from tickets.models import metadata
from tickets.tickets.models import TimelineEntry

# An exchange and queues of this module's own: no other test app takes these events, and
# these events reach no other test app's queues.
_RUN = uuid.uuid4().hex[:8]
WORLD_SETTINGS = {"queue_prefix": f"test.{_RUN}.", "event_exchange": f"test.{_RUN}.events"}

SCANNER = Actor(user_id=None, name="Pemindai antivirus", role="system")
UPLOADED = datetime(2026, 3, 2, 2, 15, tzinfo=UTC)


def actor(person) -> Actor:
    return Actor(user_id=person.user_id, name=person.name, role=person.role)


def snapshot(
    ticket: dict[str, Any],
    uploader,
    *,
    attachment_id: uuid.UUID | None = None,
    kind: AttachmentKind = "supporting",
    filename: str = "foto-printer.jpg",
    size: int = 1_572_864,
    uploaded_at: datetime = UPLOADED,
    **changes: Any,
) -> AttachmentSnapshot:
    return AttachmentSnapshot(
        attachment_id=attachment_id or uuid.uuid4(),
        ticket_id=ticket["id"],
        kind=kind,
        filename=filename,
        media_type="image/jpeg",
        size=size,
        sha256="ab" * 32,
        scan_status=changes.pop("scan_status", "pending"),
        uploaded_by=uploader.user_id,
        uploaded_by_name=uploader.name,
        uploaded_at=uploaded_at,
        **changes,
    )


def about(ticket: dict[str, Any]) -> AttachmentTicket:
    return AttachmentTicket(
        ticket_id=ticket["id"],
        number=ticket["number"],
        title=ticket["title"],
        unit_id=ticket["unit_id"],
        requester_id=ticket["requester_id"],
        assignee_id=ticket["assignee_id"],
        status=ticket["status"],
    )


def added(ticket: dict[str, Any], uploader, **file: Any) -> AttachmentAdded:
    return AttachmentAdded(
        attachment=snapshot(ticket, uploader, **file), ticket=about(ticket), actor=actor(uploader)
    )


def removed(event: AttachmentEvent, by, *, at: datetime) -> AttachmentRemoved:
    return AttachmentRemoved(
        attachment=event.attachment.model_copy(update={"removed_at": at}),
        ticket=event.ticket,
        actor=actor(by),
    )


def quarantined(event: AttachmentEvent, signature: str) -> AttachmentQuarantined:
    return AttachmentQuarantined(
        attachment=event.attachment.model_copy(update={"scan_status": "infected"}),
        ticket=event.ticket,
        actor=SCANNER,
        signature=signature,
    )


async def publish(world, payload: AttachmentEvent) -> EventEnvelope:
    envelope = EventEnvelope.wrap(payload, producer="attachments")
    await publish_envelope(world, envelope)
    return envelope


async def publish_envelope(world, envelope: EventEnvelope) -> None:
    await world.app.state.runtime.bus.publish(
        str(envelope.event_id), envelope.event_type, envelope.model_dump_json()
    )


async def processed(world, *envelopes: EventEnvelope) -> None:
    """Until the consumer has committed every one of these events (their inbox rows)."""
    wanted = {e.event_id for e in envelopes}

    async def all_in() -> bool:
        async with world.app.state.runtime.sessionmaker() as session:
            found = await session.scalars(
                sa.select(inbox_table.c.event_id).where(
                    inbox_table.c.consumer == world.settings.queue_name(CONSUMER_NAME),
                    inbox_table.c.event_id.in_(wanted),
                )
            )
            return set(found) == wanted

    await eventually(all_in, timeout=15)


async def run_in_order(world, *payloads: AttachmentEvent) -> list[EventEnvelope]:
    """Each event handled before the next is published: the order of arrival is this one."""
    envelopes = []
    for payload in payloads:
        envelopes.append(await publish(world, payload))
        await processed(world, envelopes[-1])
    return envelopes


def duplicates_seen(world, event_type: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "events_consumed_total",
            {
                "consumer": world.settings.queue_name(CONSUMER_NAME),
                "event_type": event_type,
                "outcome": "duplicate",
            },
        )
        or 0.0
    )


def text_of(pdf: bytes) -> str:
    # pypdf may break a long line anywhere: compare with whitespace folded.
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


async def submission_form(world, who, ticket: dict[str, Any], **params: str) -> str:
    response = await world.client.get(
        f"/tickets/{ticket['number']}/documents/submission-form.pdf",
        params=params,
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    return text_of(response.content)


async def timeline(world, who, ticket: dict[str, Any]) -> list[dict[str, Any]]:
    response = await world.client.get(f"/tickets/{ticket['id']}/timeline", headers=who.headers)
    assert response.status_code == 200, response.text
    return [e for e in response.json() if e["kind"].startswith("attachment_")]


async def stored(world, attachment_id: uuid.UUID) -> TicketAttachment | None:
    async with world.app.state.runtime.sessionmaker() as session:
        return await session.get(TicketAttachment, attachment_id)


async def ticket_with_people(world) -> tuple[dict[str, Any], Any, Any]:
    """A ticket of a requester, claimed by an agent."""
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit, name="Siti Rahma")
    agent = await world.person("agent", name="Budi Santoso")
    ticket = await world.create(requester, title="Printer di ruang rapat tidak bisa mencetak")
    response = await world.act(agent, ticket, "claim")
    assert response.status_code == 200, response.text
    return response.json(), requester, agent


@pytest.fixture(scope="module", autouse=True)
async def consuming(world) -> None:
    """The consumer is on its queue: events published before would wait, but a test should
    not wait for start-up inside its own timeouts."""

    async def has_consumer() -> bool:
        channel = await world.app.state.runtime.bus.channel()
        try:
            queue = await channel.declare_queue(
                world.settings.queue_name(CONSUMER_NAME), passive=True
            )
            return (queue.declaration_result.consumer_count or 0) > 0
        finally:
            await channel.close()

    await eventually(has_consumer, timeout=20)


async def test_a_new_file_is_on_the_timeline_and_in_the_table_once(world):
    ticket, requester, agent = await ticket_with_people(world)
    event = added(ticket, requester)
    envelope = EventEnvelope.wrap(event, producer="attachments")
    duplicates = duplicates_seen(world, "attachment.added")
    await publish_envelope(world, envelope)
    await publish_envelope(world, envelope)  # the broker may deliver an event twice
    await processed(world, envelope)
    await eventually(lambda: duplicates_seen(world, "attachment.added") == duplicates + 1)

    file = event.attachment
    expected = {
        "kind": "attachment_added",
        "actor_id": str(requester.user_id),
        "actor_name": "Siti Rahma",
        "actor_role": "requester",
        "before": None,
        "after": {
            "attachment_id": str(file.attachment_id),
            "filename": "foto-printer.jpg",
            "kind": "supporting",
            "media_type": "image/jpeg",
            "size": 1_572_864,
            "uploaded_by_name": "Siti Rahma",
        },
        "note": None,
        "internal": False,
        "body_html": None,  # only comments have one
    }
    for who in (requester, agent):
        [entry] = await timeline(world, who, ticket)
        assert {k: v for k, v in entry.items() if k not in ("id", "at")} == expected
        assert datetime.fromisoformat(entry["at"]) == envelope.occurred_at

    row = await stored(world, file.attachment_id)
    assert row is not None
    assert (
        str(row.ticket_id),
        row.kind,
        row.filename,
        row.media_type,
        row.size,
        row.scan_status,
        row.uploaded_by,
        row.uploaded_by_name,
        row.uploaded_at,
        row.removed_at,
    ) == (
        ticket["id"],
        "supporting",
        "foto-printer.jpg",
        "image/jpeg",
        1_572_864,
        "pending",
        requester.user_id,
        "Siti Rahma",
        UPLOADED,
        None,
    )


async def test_an_assignment_letter_from_staff_is_public(world):
    ticket, requester, agent = await ticket_with_people(world)
    await run_in_order(
        world,
        added(ticket, agent, kind="assignment_letter", filename="Surat Tugas 12.pdf", size=48_000),
    )
    [entry] = await timeline(world, requester, ticket)
    assert entry["kind"] == "attachment_added" and entry["internal"] is False
    assert entry["actor_name"] == "Budi Santoso" and entry["actor_role"] == "agent"
    assert entry["after"]["kind"] == "assignment_letter"
    assert entry["after"]["filename"] == "Surat Tugas 12.pdf"


async def test_a_removed_file_stays_removed(world):
    ticket, requester, _ = await ticket_with_people(world)
    first = added(ticket, requester)
    gone_at = UPLOADED + timedelta(hours=1)
    await run_in_order(world, first, removed(first, requester, at=gone_at))
    row = await stored(world, first.attachment.attachment_id)
    assert row is not None and row.removed_at == gone_at

    entries = await timeline(world, requester, ticket)
    assert [e["kind"] for e in entries] == ["attachment_added", "attachment_removed"]
    assert entries[1]["actor_name"] == "Siti Rahma"
    assert entries[1]["after"]["filename"] == "foto-printer.jpg"


async def test_events_arriving_out_of_order_leave_the_file_right(world):
    ticket, requester, agent = await ticket_with_people(world)
    # The removal overtook the upload: the late upload does not bring the file back.
    first = added(ticket, requester, filename="a.jpg")
    gone_at = UPLOADED + timedelta(minutes=5)
    await run_in_order(world, removed(first, requester, at=gone_at), first)
    row = await stored(world, first.attachment.attachment_id)
    assert row is not None
    assert (row.removed_at, row.filename, row.size) == (gone_at, "a.jpg", 1_572_864)

    # The quarantine overtook the upload (still pending in its event): infected it stays.
    second = added(ticket, requester, filename="b.exe")
    await run_in_order(world, quarantined(second, "Win.Test.EICAR_HDB-1"), second)
    row = await stored(world, second.attachment.attachment_id)
    assert row is not None and (row.scan_status, row.removed_at) == ("infected", None)

    # A scan result is not undone by an event written while the file was still pending.
    third = added(ticket, requester, filename="c.pdf", scan_status="clean")
    pending = third.model_copy(
        update={"attachment": third.attachment.model_copy(update={"scan_status": "pending"})}
    )
    await run_in_order(world, third, removed(pending, requester, at=gone_at))
    row = await stored(world, third.attachment.attachment_id)
    assert row is not None and (row.scan_status, row.removed_at) == ("clean", gone_at)

    # Every fact is on the timeline once, whatever the order.
    kinds = [e["kind"] for e in await timeline(world, agent, ticket)]
    assert sorted(kinds) == sorted(
        [
            "attachment_removed",
            "attachment_added",
            "attachment_quarantined",
            "attachment_malware_found",
            "attachment_added",
            "attachment_added",
            "attachment_removed",
        ]
    )


async def test_a_quarantined_file_is_withdrawn_for_all_and_its_finding_is_for_staff(world):
    ticket, requester, agent = await ticket_with_people(world)
    upload = added(ticket, requester, filename="laporan.docm", size=20_480)
    await run_in_order(world, upload, quarantined(upload, "Doc.Downloader.Emotet-1"))
    row = await stored(world, upload.attachment.attachment_id)
    assert row is not None and row.scan_status == "infected" and row.removed_at is None

    seen_by_requester = await timeline(world, requester, ticket)
    assert [e["kind"] for e in seen_by_requester] == ["attachment_added", "attachment_quarantined"]
    withdrawn = seen_by_requester[1]
    assert withdrawn["internal"] is False
    assert withdrawn["actor_name"] == "Pemindai antivirus" and withdrawn["actor_id"] is None
    assert withdrawn["after"]["filename"] == "laporan.docm"
    assert withdrawn["after"]["scan_status"] == "infected"
    assert "Emotet" not in str(seen_by_requester)

    seen_by_staff = await timeline(world, agent, ticket)
    assert [e["kind"] for e in seen_by_staff] == [
        "attachment_added",
        "attachment_quarantined",
        "attachment_malware_found",
    ]
    finding = seen_by_staff[2]
    assert finding["internal"] is True
    assert finding["after"]["signature"] == "Doc.Downloader.Emotet-1"
    assert finding["after"]["filename"] == "laporan.docm"


async def test_the_submission_form_lists_the_current_files_oldest_first(world):
    ticket, requester, agent = await ticket_with_people(world)
    older = added(
        ticket, requester, filename="surat-permohonan.pdf", size=245_760, uploaded_at=UPLOADED
    )
    newer = added(
        ticket,
        agent,
        kind="evidence",
        filename="bukti-perbaikan.jpg",
        size=1_572_864,
        uploaded_at=UPLOADED + timedelta(hours=2),
    )
    gone = added(ticket, requester, filename="salah-kirim.pdf", uploaded_at=UPLOADED)
    infected = added(ticket, requester, filename="virus.exe", uploaded_at=UPLOADED)
    # Published newest first: the form orders by upload time, not by arrival.
    await run_in_order(
        world,
        newer,
        older,
        gone,
        removed(gone, requester, at=UPLOADED + timedelta(hours=1)),
        infected,
        quarantined(infected, "Win.Test.EICAR_HDB-1"),
    )

    text = await submission_form(world, requester, ticket)
    assert "Tidak ada lampiran" not in text
    assert "surat-permohonan.pdf 240 KB" in text
    assert "bukti-perbaikan.jpg 1,5 MB" in text
    assert text.index("surat-permohonan.pdf") < text.index("bukti-perbaikan.jpg")
    assert "salah-kirim.pdf" not in text and "virus.exe" not in text

    english = await submission_form(world, agent, ticket, lang="en")
    assert "bukti-perbaikan.jpg 1.5 MB" in english


async def test_a_ticket_without_files_still_says_so(world):
    ticket, requester, _ = await ticket_with_people(world)
    assert "Tidak ada lampiran" in await submission_form(world, requester, ticket)


def test_the_berita_acara_describes_the_public_file_lines():
    def line(kind: str) -> TimelineEntry:
        return TimelineEntry(
            kind=kind,
            after={"filename": "bukti.jpg", "size": 1_572_864, "kind": "evidence"},
            before=None,
            note=None,
        )

    assert describe(line("attachment_added"), "id") == "Berkas dilampirkan: bukti.jpg (1,5 MB)"
    assert describe(line("attachment_removed"), "en") == "File removed: bukti.jpg (1.5 MB)"
    assert describe(line("attachment_quarantined"), "id") == (
        "Berkas ditarik karena terdeteksi malware: bukti.jpg (1,5 MB)"
    )


@pytest.mark.parametrize(
    ("size", "language", "expected"),
    [
        (0, "id", "0 B"),
        (1023, "en", "1023 B"),
        (1536, "id", "1,5 KB"),
        (245_760, "id", "240 KB"),
        (1_572_864, "en", "1.5 MB"),
        (25 * 1024**2, "id", "25 MB"),
    ],
)
def test_file_sizes(size: int, language: Any, expected: str):
    assert file_size(size, language) == expected


async def test_the_migration_creates_the_table_as_declared(world):
    def differences(connection: Any) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with world.app.state.runtime.engine.connect() as connection:
        diffs = await connection.run_sync(differences)
    assert [d for d in diffs if "ticket_attachments" in repr(d)] == []


async def test_an_event_for_another_ticket_changes_nothing_here(world):
    """Sanity of the helpers: a file of one ticket is not on another's timeline."""
    ticket, requester, _ = await ticket_with_people(world)
    other, other_requester, _ = await ticket_with_people(world)
    await run_in_order(world, added(other, other_requester))
    assert len(await timeline(world, other_requester, other)) == 1
    assert await timeline(world, requester, ticket) == []
