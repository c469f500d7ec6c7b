"""The hand-built MIME message parses back to exactly what was composed."""

from __future__ import annotations

import email
import email.policy
import uuid
from email.message import EmailMessage

from notifications.email.compose import compose_message, encode_header_text


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_non_ascii_text_round_trips():
    delivery_id, ticket_id = uuid.uuid4(), uuid.uuid4()
    subject = "[TKT-2026-000123] Pengaduan — jaringan “Bidang Ö” " + "ü" * 80
    text = "Yth. Ibu Zoë,\n\n. baris diawali titik\nbaris panjang " + "kata " * 60 + "\nakhir"
    html = "<p>Halo <strong>Zoë</strong> — “kutipan”</p>\n<p>=3D bukan kode</p>"
    raw = compose_message(
        delivery_id=delivery_id,
        sender="Helpdesk Kominfo Bukittinggi <helpdesk@bukittinggikota.example>",
        recipient="zoe@example.test",
        recipient_name="Zoë Ärmälä, S.Kom",
        subject=subject,
        body_text=text,
        body_html=html,
        ticket_id=ticket_id,
        ticket_number="TKT-2026-000123",
        event_type="ticket.created",
    )
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    message = parse(raw)
    assert str(message["Subject"]).strip() == subject
    assert message["To"].addresses[0].display_name == "Zoë Ärmälä, S.Kom"
    assert message["To"].addresses[0].addr_spec == "zoe@example.test"
    assert message["From"].addresses[0].display_name == "Helpdesk Kominfo Bukittinggi"
    assert message["Message-ID"] == f"<{delivery_id}@bukittinggikota.example>"
    assert message["References"] == f"<ticket-{ticket_id}@bukittinggikota.example>"
    assert message["X-Helpdesk-Ticket"] == "TKT-2026-000123"
    assert message["X-Helpdesk-Event"] == "ticket.created"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert plain.get_content().replace("\r\n", "\n") == text
    assert rich.get_content().replace("\r\n", "\n") == html


def test_header_text_never_carries_a_line_break():
    assert encode_header_text("a\r\nBcc: x@example.test") == "a Bcc: x@example.test"
    encoded = encode_header_text("ü\nBcc: x@example.test")
    assert "\n" not in encoded.replace("\r\n ", "")
