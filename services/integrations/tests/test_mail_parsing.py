"""Reading raw mails (integrations.mail.parsing): written here as the bytes a mail server
stores, in every charset and transfer encoding the spec names."""

from __future__ import annotations

# ruff: noqa: RUF001 (en dashes are real mail text here)
import base64
import quopri
import uuid

import pytest

from integrations.mail.parsing import (
    decode_bytes,
    dedupe_key,
    html_to_text,
    parse_mail,
    ticket_number_in,
    trim_quoted,
)


def mail(
    body: bytes,
    *,
    content_type: str = "text/plain; charset=utf-8",
    cte: str = "8bit",
    subject: bytes = b"Printer rusak",
    sender: bytes = b"Budi Santoso <Budi@Example.go.id>",
    extra: bytes = b"",
) -> bytes:
    return (
        b"From: " + sender + b"\r\n"
        b"To: helpdesk@localhost\r\n"
        b"Subject: " + subject + b"\r\n"
        b"Date: Fri, 04 Dec 2026 09:15:00 +0700\r\n"
        b"Message-ID: <abc.123@example.go.id>\r\n" + extra + b"MIME-Version: 1.0\r\n"
        b"Content-Type: " + content_type.encode() + b"\r\n"
        b"Content-Transfer-Encoding: " + cte.encode() + b"\r\n\r\n" + body
    )


TEXT = "Printer di ruang rapat tidak bisa mencetak. Harga 5 € – café"


def test_headers_sender_and_ids() -> None:
    parsed = parse_mail(mail(b"Halo\r\n"))
    assert parsed.from_address == "budi@example.go.id"
    assert parsed.from_name == "Budi Santoso"
    assert parsed.subject == "Printer rusak"
    assert parsed.message_id == "abc.123@example.go.id"
    assert parsed.date is not None and parsed.date.utcoffset() is not None
    assert parsed.text == "Halo"
    assert parsed.automatic is None
    assert not parsed.html_only


@pytest.mark.parametrize(
    ("charset", "cte"),
    [
        ("utf-8", "8bit"),
        ("utf-8", "base64"),
        ("utf-8", "quoted-printable"),
        ("windows-1252", "quoted-printable"),
        ("windows-1252", "8bit"),
        ("utf-16", "base64"),
    ],
)
def test_charsets_and_transfer_encodings(charset: str, cte: str) -> None:
    data = TEXT.encode(charset)
    body = {
        "8bit": data,
        "base64": base64.encodebytes(data),
        "quoted-printable": quopri.encodestring(data),
    }[cte]
    parsed = parse_mail(mail(body, content_type=f"text/plain; charset={charset}", cte=cte))
    assert parsed.text == TEXT


def test_iso_8859_1_and_us_ascii() -> None:
    latin = "Pemohon: José Müller, ruang 3°"
    parsed = parse_mail(
        mail(
            quopri.encodestring(latin.encode("iso-8859-1")),
            content_type="text/plain; charset=iso-8859-1",
            cte="quoted-printable",
        )
    )
    assert parsed.text == latin
    ascii_mail = parse_mail(
        mail(b"Plain ascii text", content_type="text/plain; charset=us-ascii", cte="7bit")
    )
    assert ascii_mail.text == "Plain ascii text"


def test_wrong_declared_charset_is_detected() -> None:
    # Declared UTF-8, written in windows-1252 (a long enough text to detect).
    text = (
        "Mohon bantuan: aplikasi café gagal dibuka, muncul pesan « erreur » "
        "dan tanda €. Sudah dicoba ulang berkali-kali di ruang rapat lantai dua. "
    ) * 3
    parsed = parse_mail(mail(text.encode("windows-1252"), content_type="text/plain; charset=utf-8"))
    assert "café" in parsed.text and "€" in parsed.text
    # Declared Latin-1, written in UTF-8: read as UTF-8 (not mojibake).
    parsed = parse_mail(mail(TEXT.encode(), content_type="text/plain; charset=iso-8859-1"))
    assert parsed.text == TEXT


def test_unknown_declared_charset_is_detected() -> None:
    text = "Permintaan akun baru untuk pegawai: Siti Nurhaliza – bagian keuangan. Terima kasih."
    parsed = parse_mail(mail(text.encode(), content_type="text/plain; charset=x-no-such-charset"))
    assert parsed.text == text
    assert decode_bytes("Tschüß".encode(), "bogus") == "Tschüß"


def test_rfc2047_subjects_and_names() -> None:
    subject = b"=?UTF-8?B?" + base64.b64encode("Jaringan mati – lantai 2 ✓".encode()) + b"?="
    sender = b"=?ISO-8859-1?Q?Jos=E9_M=FCller?= <jose@example.go.id>"
    parsed = parse_mail(mail(b"x", subject=subject, sender=sender))
    assert parsed.subject == "Jaringan mati – lantai 2 ✓"
    assert parsed.from_name == "José Müller"
    assert parsed.from_address == "jose@example.go.id"
    # Two encoded words across a fold, one in windows-1252, one with an unknown charset.
    folded = b"=?windows-1252?Q?Caf=E9?=\r\n =?x-unknown?Q?_rusak?="
    assert parse_mail(mail(b"x", subject=folded)).subject == "Café rusak"
    # Raw 8-bit UTF-8 in the header (no encoding at all).
    assert parse_mail(mail(b"x", subject="Ruang ✓ rapat".encode())).subject == "Ruang ✓ rapat"


def test_html_only_mail_becomes_text() -> None:
    html = (
        b"<html><head><style>p { color: red }</style><script>alert('x')</script></head>"
        b"<body><p>Halo <b>tim</b>,</p><ul><li>Printer</li><li>Scanner</li></ul>"
        b"<table><tr><td>Ruang</td><td>301</td></tr></table>"
        b'<img src="http://tracker/x.gif"></body></html>'
    )
    parsed = parse_mail(
        mail(
            quopri.encodestring(html),
            content_type="text/html; charset=utf-8",
            cte="quoted-printable",
        )
    )
    assert parsed.html_only
    assert "Halo tim," in parsed.text
    assert "* Printer" in parsed.text and "Scanner" in parsed.text
    assert "Ruang" in parsed.text and "301" in parsed.text
    for leftover in ("<", ">", "alert", "color", "tracker", "script"):
        assert leftover not in parsed.text


def test_alternative_prefers_plain() -> None:
    raw = mail(
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTeks biasa\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Teks <i>html</i></p>\r\n--b--\r\n",
        content_type='multipart/alternative; boundary="b"',
    )
    parsed = parse_mail(raw)
    assert parsed.text == "Teks biasa" and not parsed.html_only


def test_attachments_rfc2231_and_inline_images() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    raw = mail(
        b"--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLihat lampiran.\r\n"
        b"--m\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''Laporan%20%C3%BCbersicht.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"%PDF-1.4 test")
        + b"--m\r\nContent-Type: image/png\r\nContent-ID: <img1@x>\r\n"
        b"Content-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(png)
        + b'--m\r\nContent-Type: text/plain; name="=?UTF-8?Q?cat=C3=A1tan.txt?="\r\n'
        b"Content-Disposition: attachment\r\n\r\nisi catatan\r\n--m--\r\n",
        content_type='multipart/mixed; boundary="m"',
    )
    parsed = parse_mail(raw)
    assert parsed.text == "Lihat lampiran."
    names = [(f.filename, f.media_type, f.inline) for f in parsed.files]
    assert names == [
        ("Laporan übersicht.pdf", "application/pdf", False),
        ("part-3.png", "image/png", True),
        ("catátan.txt", "text/plain", False),
    ]
    assert parsed.files[0].content == b"%PDF-1.4 test"
    assert parsed.files[1].content == png and parsed.files[1].content_id == "img1@x"


def test_threading_keys() -> None:
    ticket_id = uuid.uuid4()
    raw = mail(
        b"Balasan",
        subject=b"Re: [TKT-2026-000123] Printer rusak",
        extra=(
            b"In-Reply-To: <d1f6@helpdesk.local>\r\n"
            b"References: <first@x> <ticket-" + str(ticket_id).encode() + b"@helpdesk.local>\r\n"
            b"  <d1f6@helpdesk.local>\r\n"
        ),
    )
    parsed = parse_mail(raw)
    assert parsed.in_reply_to == ["d1f6@helpdesk.local"]
    assert parsed.thread_ids == [
        "d1f6@helpdesk.local",
        f"ticket-{ticket_id}@helpdesk.local",
        "first@x",
    ]
    assert parsed.thread_ticket_ids == [ticket_id]
    assert parsed.subject_ticket_number == "TKT-2026-000123"
    assert ticket_number_in("AW: WG: Fwd: tkt-2025-42 masih") == "TKT-2025-42"
    assert ticket_number_in("Nomor 2026-000123 saja") is None
    assert ticket_number_in("ABTKT-2026-1x") is None


@pytest.mark.parametrize(
    ("extra", "content_type", "sender", "reason"),
    [
        (
            b"Auto-Submitted: auto-replied\r\n",
            "text/plain",
            b"a@x.id",
            "auto_submitted:auto-replied",
        ),
        (
            b"Auto-Submitted: auto-generated; owner-email=x@y\r\n",
            "text/plain",
            b"a@x.id",
            "auto_submitted:auto-generated",
        ),
        (b"Precedence: bulk\r\n", "text/plain", b"a@x.id", "precedence:bulk"),
        (b"Precedence: junk\r\n", "text/plain", b"a@x.id", "precedence:junk"),
        (b"Precedence: list\r\n", "text/plain", b"a@x.id", "precedence:list"),
        (b"X-Autoreply: yes\r\n", "text/plain", b"a@x.id", "x-autoreply"),
        (b"X-Autorespond: yes\r\n", "text/plain", b"a@x.id", "x-autorespond"),
        (b"List-Id: <news.example.org>\r\n", "text/plain", b"a@x.id", "mailing_list"),
        (b"List-Unsubscribe: <mailto:u@x>\r\n", "text/plain", b"a@x.id", "mailing_list"),
        (b"", "text/plain", b"MAILER-DAEMON@mx.example.org", "bounce"),
        (b"", "text/plain", b"Postmaster <postmaster@x.id>", "bounce"),
        (b"Return-Path: <>\r\n", "text/plain", b"a@x.id", "null_sender"),
        (b"", "text/plain", b"<>", "null_sender"),
        (b"", 'multipart/report; report-type=delivery-status; boundary="r"', b"a@x.id", "bounce"),
        (b"X-Helpdesk-Event: ticket.created\r\n", "text/plain", b"a@x.id", "own_mail"),
        (b"", "text/plain", b"Helpdesk <HelpDesk@localhost>", "own_mail"),
    ],
)
def test_automatic_mail(extra: bytes, content_type: str, sender: bytes, reason: str) -> None:
    raw = mail(
        b"--r--\r\n" if "report" in content_type else b"Isi",
        content_type=content_type,
        sender=sender,
        extra=extra,
    )
    parsed = parse_mail(raw, own_addresses=frozenset({"helpdesk@localhost"}))
    assert parsed.automatic == reason


def test_not_automatic() -> None:
    raw = mail(b"Isi", extra=b"Auto-Submitted: no\r\nPrecedence: normal\r\n")
    assert parse_mail(raw).automatic is None


def test_quoted_history_trimmed() -> None:
    english = (
        "Sudah saya coba, masih error.\n\nOn Fri, 4 Dec 2026 at 09:00, Helpdesk <h@x> wrote:\n"
        "> Mohon coba restart.\n> Terima kasih"
    )
    assert trim_quoted(english) == "Sudah saya coba, masih error."
    indonesian = (
        "Baik, terima kasih.\nPada Jum, 4 Des 2026 pukul 09.00 Helpdesk <h@x>\nmenulis:\n"
        "> teks lama"
    )
    assert trim_quoted(indonesian) == "Baik, terima kasih."
    outlook = "Oke.\n\n-----Original Message-----\nFrom: Helpdesk\nSent: ..."
    assert trim_quoted(outlook) == "Oke."
    trailing = "Jawaban saya\n\n> kutipan\n> kutipan 2\n"
    assert trim_quoted(trailing) == "Jawaban saya"
    interleaved = "> Pertanyaan 1?\nJawaban 1\n> Pertanyaan 2?\nJawaban 2"
    assert trim_quoted(interleaved) == interleaved
    # Nothing of its own: kept whole rather than emptied.
    only_quote = "> hanya kutipan"
    assert trim_quoted(only_quote) == only_quote


def test_dedupe_key() -> None:
    with_id = parse_mail(mail(b"a"))
    assert dedupe_key(with_id, b"raw") == "abc.123@example.go.id"
    raw = b"From: a@x.id\r\nSubject: tanpa id\r\n\r\nisi"
    no_id = parse_mail(raw)
    assert no_id.message_id is None
    assert dedupe_key(no_id, raw) == dedupe_key(parse_mail(raw), raw)
    assert dedupe_key(no_id, raw).startswith("sha256:")


def test_garbage_never_raises() -> None:
    for raw in [
        b"",
        b"\x00\xff\xfe garbage",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary",
        b"Subject: =?utf-8?B?!!!?=\r\nFrom: \xff\r\n\r\n\xff\xfe",
    ]:
        parsed = parse_mail(raw)
        assert "\x00" not in parsed.text and "\x00" not in parsed.subject


def test_html_to_text_plain() -> None:
    assert html_to_text("<div>a<br>b</div>") == "a\nb"


def test_undeclared_cyrillic_is_not_read_as_western() -> None:
    text = "Здравствуйте, принтер в переговорной не печатает уже второй день, помогите пожалуйста."
    parsed = parse_mail(mail(text.encode("koi8-r"), content_type="text/plain; charset=utf-8"))
    assert parsed.text == text
