"""A scheduled report (report.generated) is mailed once to each recipient, in their language,
with the document attached; the stored attachment goes with the last delivery."""

from __future__ import annotations

import base64
import email
import email.policy
import uuid
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import sqlalchemy as sa

from helpdesk_common.contracts.reports import ReportGenerated, ReportRecipient
from helpdesk_testing import eventually
from notifications.email.compose import compose_message
from notifications.email.models import EmailAttachment, EmailDelivery
from notifications.email.service import Attachment, purge_finished

DOCUMENT = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def report(*recipients: ReportRecipient, name: str = "Kinerja mingguan") -> ReportGenerated:
    return ReportGenerated(
        run_id=uuid.uuid4(),
        subscription_id=uuid.uuid4(),
        subscription_name=name,
        report="summary",
        cadence="weekly",
        period_from=date(2026, 6, 1),
        period_to=date(2026, 6, 7),
        language="id",
        recipients=list(recipients),
        filename="Laporan ringkasan 2026-06-01 \u2013 2026-06-07.pdf",
        content_base64=base64.b64encode(DOCUMENT).decode(),
        generated_at=datetime.now(UTC),
    )


def attached(message: EmailMessage) -> tuple[str | None, bytes]:
    (part,) = list(message.iter_attachments())
    content = part.get_content()
    assert isinstance(content, bytes)
    assert part.get_content_type() == "application/pdf"
    return part.get_filename(), content


async def test_each_recipient_gets_the_report_once_in_their_language(service, smtp_sink):
    ana = f"ana-{uuid.uuid4().hex[:8]}@example.test"
    ben = f"ben-{uuid.uuid4().hex[:8]}@example.test"
    event = report(
        ReportRecipient(email=ana, name="Ana Lestari", user_id=uuid.uuid4(), language="id"),
        ReportRecipient(email=ben.upper(), name="Ben Hart", user_id=uuid.uuid4(), language="en"),
        # The same address twice (another spelling): one mail.
        ReportRecipient(email=ana.upper(), name="Ana", language="id"),
    )
    envelope = await service.publish(event, producer="reports")
    rows = await service.wait_sent(envelope)
    assert sorted(r.recipient for r in rows) == sorted([ana, ben])
    # Redelivered (the same event id): the inbox makes it a no-op.
    await service.publish_envelope(envelope)
    await eventually(lambda: len(smtp_sink.to(ana)) == 1 and len(smtp_sink.to(ben)) == 1)

    (mail_ana,) = smtp_sink.to(ana)
    assert mail_ana.subject == (
        "Laporan terjadwal: Kinerja mingguan (1 Juni 2026 \u2013 7 Juni 2026)"
    )
    assert "Yth. Ana Lestari" in mail_ana.text
    assert "Terlampir laporan mingguan" in mail_ana.html
    assert mail_ana.message.get_content_type() == "multipart/mixed"
    assert attached(mail_ana.message) == (event.filename, DOCUMENT)

    (mail_ben,) = smtp_sink.to(ben)
    assert mail_ben.subject == "Scheduled report: Kinerja mingguan (1 June 2026 \u2013 7 June 2026)"
    assert "Dear Ben Hart" in mail_ben.text
    assert attached(mail_ben.message) == (event.filename, DOCUMENT)

    async with service.sessionmaker() as session:
        stored = await session.scalars(
            sa.select(EmailAttachment).where(EmailAttachment.id == envelope.event_id)
        )
        assert [a.content for a in stored] == [DOCUMENT]
        # No in-app notification for a report.
        in_app = await session.scalar(
            sa.text("SELECT count(*) FROM notifications WHERE event_id = :e"),
            {"e": envelope.event_id},
        )
        assert in_app == 0


async def test_the_attachment_goes_with_its_last_delivery(service, smtp_sink):
    address = f"cici-{uuid.uuid4().hex[:8]}@example.test"
    envelope = await service.publish(
        report(ReportRecipient(email=address, name="Cici")), producer="reports"
    )
    await service.wait_sent(envelope)
    async with service.sessionmaker() as session, session.begin():
        # As if past retention.
        await session.execute(
            sa.update(EmailDelivery)
            .where(EmailDelivery.event_id == envelope.event_id)
            .values(created_at=datetime.now(UTC) - timedelta(days=40))
        )
        await session.execute(
            sa.update(EmailAttachment)
            .where(EmailAttachment.id == envelope.event_id)
            .values(created_at=datetime.now(UTC) - timedelta(days=40))
        )
        await purge_finished(session, older_than=timedelta(days=30))
    async with service.sessionmaker() as session:
        assert await session.get(EmailAttachment, envelope.event_id) is None


def test_an_attachment_makes_a_multipart_mixed_message() -> None:
    name = 'Laporan "Juni"\r\nBcc: x@evil.test \u2013 ringkasan.pdf'
    raw = compose_message(
        delivery_id=uuid.uuid4(),
        sender="Helpdesk <helpdesk@example.test>",
        recipient="a@example.test",
        recipient_name="A",
        subject="Laporan",
        body_text="Teks",
        body_html="<p>HTML</p>",
        attachments=[Attachment(filename=name, media_type="application/pdf", content=DOCUMENT)],
    )
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Bcc"] is None  # the name cannot add a header
    assert message.get_content_type() == "multipart/mixed"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().strip() == "Teks"
    filename, content = attached(message)
    assert content == DOCUMENT
    assert filename == 'Laporan "Juni" Bcc: x@evil.test \u2013 ringkasan.pdf'
    # Every line of the message within the limit of RFC 5322.
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
