"""Comments in Markdown: the API gives each comment's sanitised HTML beside its text, on the
comments and on the timeline, and the PDFs print comments as clean text."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tickets.documents.service import describe
from tickets.tickets.models import TimelineEntry

BODY = (
    "Sudah kami cek, **printer rusak**:\n"
    "- toner _habis_\n"
    "- kabel [lihat foto](https://example.go.id/foto)\n\n"
    "<script>alert(1)</script>"
)
BODY_HTML = (
    "<p>Sudah kami cek, <strong>printer rusak</strong>:</p>\n"
    "<ul>\n<li>toner <em>habis</em></li>\n"
    '<li>kabel <a href="https://example.go.id/foto" rel="noopener noreferrer nofollow">'
    "lihat foto</a></li>\n</ul>\n"
    "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
)
BODY_TEXT = (
    "Sudah kami cek, printer rusak:\n\n"
    "- toner habis\n"
    "- kabel lihat foto (https://example.go.id/foto)\n\n"
    "<script>alert(1)</script>"
)


async def test_comments_and_their_timeline_lines_carry_the_sanitised_html(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    ticket = await world.create(requester)
    path = f"/tickets/{ticket['id']}"

    created = await world.client.post(
        f"{path}/comments", json={"body": BODY}, headers=agent.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["body"] == BODY  # the text as written stays
    assert created.json()["body_html"] == BODY_HTML

    listed = (await world.client.get(f"{path}/comments", headers=requester.headers)).json()
    assert [(c["body"], c["body_html"]) for c in listed] == [(BODY, BODY_HTML)]

    timeline = (await world.client.get(f"{path}/timeline", headers=requester.headers)).json()
    comment = next(entry for entry in timeline if entry["kind"] == "comment")
    assert comment["after"]["body"] == BODY and comment["body_html"] == BODY_HTML
    # Other kinds of lines have none.
    assert {entry["body_html"] for entry in timeline if entry["kind"] != "comment"} == {None}


async def test_a_bad_comment_is_refused_and_nothing_is_stored(world):
    requester = await world.person("requester", unit_id=await world.unit())
    ticket = await world.create(requester)
    path = f"/tickets/{ticket['id']}/comments"
    for body in ("x" * 10_001, "   "):
        response = await world.client.post(path, json={"body": body}, headers=requester.headers)
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["field"] == "body"
    assert (await world.client.get(path, headers=requester.headers)).json() == []


def text_of(pdf: bytes) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


async def test_the_berita_acara_prints_a_comment_as_clean_text(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    ticket = await world.create(requester)
    assert (await world.act(agent, ticket, "claim")).status_code == 200
    response = await world.client.post(
        f"/tickets/{ticket['id']}/comments",
        json={"body": "**Kabel** _LAN_ diganti, lihat [foto](https://example.go.id/f)"},
        headers=agent.headers,
    )
    assert response.status_code == 201, response.text
    resolved = await world.act(agent, ticket, "resolve", result_summary="Selesai diperbaiki")
    assert resolved.status_code == 200, resolved.text

    pdf = await world.client.get(
        f"/tickets/{ticket['number']}/documents/berita-acara.pdf", headers=requester.headers
    )
    assert pdf.status_code == 200, pdf.text
    text = text_of(pdf.content)
    # The table cell may break the address anywhere: compared without whitespace.
    assert "Balasan:KabelLANdiganti,lihatfoto(https://example.go.id/f)" in "".join(text.split())
    for marker in ("**", "_LAN_", "](", "<strong>", "<a "):
        assert marker not in text


def test_timeline_comment_lines_in_words_are_plain_text():
    entry = TimelineEntry(kind="comment", after={"body": BODY}, note=None)
    assert describe(entry, "id") == f"Balasan: {BODY_TEXT}"
