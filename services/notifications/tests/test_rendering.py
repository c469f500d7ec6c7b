"""Templates: every event in both languages, escaping, safe subjects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from helpdesk_common.contracts import CATALOGUE
from helpdesk_common.contracts.tickets import Actor, TicketEvent, TicketSnapshot
from notifications.email.rendering import LANGUAGES, TEMPLATES, Renderer, one_line
from notifications.routing.handlers import KIND_BY_EVENT
from notifications.routing.recipients import Recipient

EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "ticket.assigned": {"assignee_id": uuid.uuid4(), "assignee_name": "Budi"},
    "ticket.status_changed": {"from_status": "new", "to_status": "in_progress"},
    "ticket.commented": {"comment_id": uuid.uuid4(), "body": "Halo", "internal": False},
    "ticket.resolved": {"result_summary": "Selesai diperbaiki"},
    "ticket.sla_warning": {
        "target": "resolution",
        "due_at": datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        "threshold": 0.75,
    },
    "ticket.sla_breached": {"target": "resolution", "due_at": datetime(2026, 3, 2, tzinfo=UTC)},
    "ticket.escalated": {"target": "resolution", "reason": "Terlambat"},
}


def ticket(**changes: Any) -> TicketSnapshot:
    values: dict[str, Any] = {
        "ticket_id": uuid.uuid4(),
        "number": "TKT-2026-000123",
        "title": "Jaringan internet putus",
        "status": "in_progress",
        "priority": "critical",
        "unit_id": uuid.uuid4(),
        "unit_name": "Dinas Pendidikan",
        "assignee_name": "Budi Santoso",
        "created_at": datetime(2026, 3, 1, 1, 30, tzinfo=UTC),
        "version": 3,
    }
    values.update(changes)
    return TicketSnapshot(**values)


def event(event_type: str, **changes: Any) -> TicketEvent:
    model = CATALOGUE[event_type]
    payload = model(
        ticket=ticket(**changes),
        actor=Actor(user_id=uuid.uuid4(), name="Andi", role="agent"),
        **EXTRA_FIELDS.get(event_type, {}),
    )
    assert isinstance(payload, TicketEvent)
    return payload


def render(kind: str, payload: TicketEvent, *, language: str = "id"):
    return Renderer().render(
        kind,
        language=language,
        context={
            "brand": "Helpdesk Kominfo",
            "recipient": Recipient("requester", "Siti", language, "siti@example.test", None),
            "ticket": payload.ticket,
            "event": payload,
            "actor": payload.actor,
            "link": "https://helpdesk.example/#/tickets/1",
        },
    )


def test_every_kind_has_both_formats_in_both_languages():
    for language in LANGUAGES:
        for kind in [*KIND_BY_EVENT.values(), "test"]:
            for extension in ("txt", "html"):
                assert (TEMPLATES / language / f"{kind}.{extension}").is_file(), (
                    language,
                    kind,
                    extension,
                )


@pytest.mark.parametrize("event_type", sorted(KIND_BY_EVENT))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_ticket_event_renders(event_type: str, language: str):
    rendered = render(KIND_BY_EVENT[event_type], event(event_type), language=language)
    assert rendered.subject.startswith("[TKT-2026-000123] ")
    assert "Jaringan internet putus" in rendered.subject
    assert rendered.summary
    for body in (rendered.text, rendered.html):
        assert "TKT-2026-000123" in body and "Budi Santoso" in body
        assert "https://helpdesk.example/#/tickets/1" in body
    assert ("Kritis" if language == "id" else "Critical") in rendered.text
    assert f'<html lang="{language}">' in rendered.html


def test_times_are_shown_in_western_indonesian_time():
    rendered = render("sla_warning", event("ticket.sla_warning"))
    assert "01-03-2026 08:30 WIB" in rendered.text  # created_at, 01:30 UTC
    assert "02-03-2026 10:00 WIB" in rendered.text  # due_at, 03:00 UTC


def test_user_text_is_escaped_in_html_and_subject_is_one_line():
    payload = event(
        "ticket.commented", title="Printer\r\nBcc: evil@example.test\n<b>rusak</b>"
    ).model_copy(update={"body": "<script>alert(1)</script>\nbaris dua"})
    rendered = render("commented", payload)
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert rendered.subject.endswith("Printer Bcc: evil@example.test <b>rusak</b>")
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>" in rendered.html
    assert "&lt;b&gt;rusak&lt;/b&gt;" in rendered.html
    assert "<script>alert(1)</script>\nbaris dua" in rendered.text  # plain text stays verbatim


def test_unknown_language_falls_back_to_bahasa_indonesia():
    rendered = render("created", event("ticket.created"), language="fr")
    assert rendered.subject.startswith("[TKT-2026-000123] Tiket baru:")


def test_one_line_truncates_long_text():
    assert one_line("a  b\n\tc") == "a b c"
    long = one_line("x" * 500)
    assert len(long) == 200 and long.endswith("…")
