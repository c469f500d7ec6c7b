"""The comment mail: the comment's Markdown as sanitised HTML in the HTML part, as plain text
in the text part and the in-app summary."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from helpdesk_common.contracts.tickets import Actor, TicketCommented, TicketSnapshot
from notifications.email.rendering import Renderer
from notifications.routing.recipients import Recipient

BODY = (
    "Sudah kami cek, **printer rusak**:\n\n"
    "- toner _habis_\n"
    "- kabel [lihat foto](https://example.go.id/foto)\n\n"
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"
)
BODY_HTML = (
    "<p>Sudah kami cek, <strong>printer rusak</strong>:</p>\n"
    "<ul>\n<li>toner <em>habis</em></li>\n"
    '<li>kabel <a href="https://example.go.id/foto" rel="noopener noreferrer nofollow">'
    "lihat foto</a></li>\n</ul>\n"
    "<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;"
    " [x](javascript:alert(1))</p>"
)
BODY_TEXT = (
    "Sudah kami cek, printer rusak:\n\n"
    "- toner habis\n"
    "- kabel lihat foto (https://example.go.id/foto)\n\n"
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"
)


class Elements(HTMLParser):
    """The elements of an HTML document and their attributes, as a browser parses them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def commented(body: str) -> TicketCommented:
    return TicketCommented(
        ticket=TicketSnapshot(
            ticket_id=uuid.uuid4(),
            number="TKT-2026-000321",
            title="Printer rusak",
            status="in_progress",
            priority="normal",
            unit_id=uuid.uuid4(),
            unit_name="Dinas Pendidikan",
            created_at=datetime(2026, 3, 1, 1, 30, tzinfo=UTC),
            version=2,
        ),
        actor=Actor(user_id=uuid.uuid4(), name="Andi", role="agent"),
        comment_id=uuid.uuid4(),
        body=body,
        internal=False,
    )


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_comment_mail_shows_the_markdown_safely(language: str) -> None:
    payload = commented(BODY)
    rendered = Renderer().render(
        "commented",
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
    assert BODY_HTML in rendered.html
    elements = Elements()
    elements.feed(rendered.html)
    tags = {tag for tag, _ in elements.found}
    assert {"strong", "em", "ul", "li"} <= tags
    assert not tags & {"script", "img", "iframe"}
    links = [attrs for tag, attrs in elements.found if tag == "a"]
    assert {"href": "https://example.go.id/foto", "rel": "noopener noreferrer nofollow"} in links
    assert not any(str(a.get("href", "")).startswith("javascript:") for a in links)
    assert not any(name.startswith("on") for _, attrs in elements.found for name in attrs)

    # The text part and the in-app summary: plain text, no Markdown markers, no HTML.
    assert BODY_TEXT in rendered.text
    assert "**" not in rendered.text and "<strong>" not in rendered.text
    assert rendered.summary.startswith("Andi: Sudah kami cek, printer rusak: - toner habis")
    # The event itself is left as it was (the HTML part used its Markdown).
    assert payload.body == BODY
