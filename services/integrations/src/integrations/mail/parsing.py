"""Reading a raw mail (pure functions, no I/O): its headers and sender, the body as plain
text whatever its charset and transfer encoding, its files, the keys that thread it under a
ticket, whether a robot sent it, and a reply's quoted history.

Mail in the wild declares charsets it does not use and charsets nobody knows; a header may
carry raw 8-bit bytes. Nothing here raises on such a mail: a part whose declared charset
fails (or is unknown) is decoded by charset-normalizer, and as a last resort as UTF-8 with
replacement characters, so a request is never lost to its encoding.
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.utils
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message

import charset_normalizer
from charset_normalizer.md import mess_ratio
from inscriptis import get_text  # type: ignore[import-untyped]
from inscriptis.css_profiles import CSS_PROFILES  # type: ignore[import-untyped]
from inscriptis.model.config import ParserConfig  # type: ignore[import-untyped]

# The tickets' numbers (tickets/tickets/numbering.py TICKET_REF_REGEX: ``TKT-2026-000123``,
# any prefix), found in a subject, preferably in brackets as the notifications write them.
TICKET_NUMBER_IN_SUBJECT = re.compile(
    r"(?<![A-Za-z0-9-])([A-Za-z][A-Za-z0-9]*-[0-9]{4}-[0-9]{1,12})(?![A-Za-z0-9])"
)
# The notifications service's thread id of a ticket: ``<ticket-{uuid}@{domain}>``.
TICKET_THREAD_ID = re.compile(
    r"^ticket-([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})@",
)
_MSG_ID = re.compile(r"<([^<>\s]+)>")

# Declared charsets that mail software writes for windows-1252 (as browsers read them).
_LATIN1_ALIASES = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii", "l1"}

_INSCRIPTIS = ParserConfig(css=CSS_PROFILES["strict"], display_images=False, display_links=False)

_NO_REPLY_LOCAL_PARTS = {"mailer-daemon", "postmaster"}


@dataclass(frozen=True)
class MailFile:
    """A file of the mail (an attachment or an inline image)."""

    filename: str
    media_type: str
    content: bytes
    inline: bool
    content_id: str | None = None


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    from_address: str | None  # lower case; None when there is none (a null sender)
    from_name: str | None
    subject: str
    date: datetime | None
    in_reply_to: list[str]
    references: list[str]
    text: str
    html_only: bool
    files: list[MailFile] = field(default_factory=list)
    # Why this mail is automatic (never answered, never a ticket), or None.
    automatic: str | None = None

    @property
    def thread_ids(self) -> list[str]:
        """The message ids this mail answers, nearest first (In-Reply-To, then References
        from the last)."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen

    @property
    def thread_ticket_ids(self) -> list[uuid.UUID]:
        """Tickets named by the notifications' thread ids among the ids it answers."""
        found: list[uuid.UUID] = []
        for mid in self.thread_ids:
            match = TICKET_THREAD_ID.match(mid)
            if match:
                ticket_id = uuid.UUID(match.group(1))
                if ticket_id not in found:
                    found.append(ticket_id)
        return found

    @property
    def subject_ticket_number(self) -> str | None:
        return ticket_number_in(self.subject)


def ticket_number_in(subject: str) -> str | None:
    """A ticket number in a subject (``Re: [TKT-2026-000123] Printer``), upper case."""
    match = TICKET_NUMBER_IN_SUBJECT.search(subject)
    return match.group(1).upper() if match else None


# --- text ---------------------------------------------------------------------------------


def decode_bytes(data: bytes, declared: str | None) -> str:
    """``data`` as text: by the declared charset when it decodes cleanly, else detected.

    Latin-1 as declared is read as windows-1252 (its superset, what senders mean), and a
    part declared Latin-1 or ASCII that is valid UTF-8 with non-ASCII bytes is UTF-8 (a
    common misdeclaration that would otherwise decode without error into mojibake)."""
    charset = (declared or "").strip().strip('"').lower() or None
    if not data:
        return ""
    if charset in _LATIN1_ALIASES or charset is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return text
        if charset is not None:
            return (
                data.decode("windows-1252", errors="strict")
                if _cp1252_ok(data)
                else (data.decode("latin-1"))
            )
    if charset is not None:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return _detected(data)


def _detected(data: bytes) -> str:
    """charset-normalizer's reading of ``data``; windows-1252 (the Western default, what an
    Indonesian mail client writes) when that reads at least as cleanly, as the detector
    cannot tell the single-byte Latin code pages apart on a short text."""
    best = charset_normalizer.from_bytes(data).best()
    western = data.decode("windows-1252") if _cp1252_ok(data) else None
    if best is None:
        return western if western is not None else data.decode("utf-8", errors="replace")
    detected = str(best)
    if western is not None and mess_ratio(western) <= mess_ratio(detected):
        return western
    return detected


def _cp1252_ok(data: bytes) -> bool:
    try:
        data.decode("windows-1252")
    except UnicodeDecodeError:
        return False
    return True


def decode_header_text(value: object) -> str:
    """A header's text with RFC 2047 encoded words decoded (any charset, unknown ones
    detected) and raw 8-bit bytes read as UTF-8 or detected; folded lines joined."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        # compat32 wraps a header with raw 8-bit bytes as charset "unknown-8bit".
        chunks = email.header.decode_header(value)
        return _one_line(
            "".join(
                decode_bytes(chunk, None if charset in (None, "unknown-8bit") else charset)
                if isinstance(chunk, bytes)
                else chunk
                for chunk, charset in chunks
            )
        )
    text = str(value)
    # compat32 keeps raw 8-bit header bytes as surrogate escapes.
    try:
        raw = text.encode("ascii", errors="surrogateescape")
    except UnicodeEncodeError:
        raw = None
    if raw is not None and any(b > 127 for b in raw):
        text = decode_bytes(raw, None)
    try:
        parts = email.header.decode_header(text)
    except Exception:
        return _one_line(text)
    pieces: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            pieces.append(decode_bytes(chunk, charset or "us-ascii"))
        else:
            pieces.append(chunk)
    return _one_line("".join(pieces))


def _one_line(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", text).replace("\x00", "").strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (inscriptis: lists and tables kept; scripts, styles and
    markup gone)."""
    text = get_text(html, _INSCRIPTIS)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", errors="surrogateescape")
    return decode_bytes(payload, part.get_content_charset())


# --- addresses ----------------------------------------------------------------------------


def _sender(message: Message) -> tuple[str | None, str | None]:
    raw = message.get("From")
    if raw is None:
        return None, None
    name, address = email.utils.parseaddr(decode_header_text(raw))
    address = address.strip().lower()
    if "@" not in address:
        return (name or None), None
    return (name.strip() or None), address


def _msg_ids(value: object) -> list[str]:
    if value is None:
        return []
    return _MSG_ID.findall(str(value))


# --- automatic mail -----------------------------------------------------------------------


def automatic_reason(
    message: Message, *, from_address: str | None, own_addresses: frozenset[str] = frozenset()
) -> str | None:
    """Why a mail came from a robot (and must be neither a ticket nor answered), or None.

    RFC 3834 (Auto-Submitted other than ``no``), Precedence bulk/junk/list, the vendors'
    auto-reply headers, mailing lists (List-Id, List-Unsubscribe), bounces (a null sender,
    MAILER-DAEMON or postmaster, multipart/report) and this helpdesk's own mails."""
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"auto_submitted:{auto.split(';')[0].strip()}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"precedence:{precedence}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if message.get(name) is not None:
            return name.lower()
    if message.get("List-Id") is not None or message.get("List-Unsubscribe") is not None:
        return "mailing_list"
    if message.get("X-Helpdesk-Event") is not None:
        return "own_mail"
    if message.get_content_type() == "multipart/report":
        return "bounce"
    return_path = message.get("Return-Path")
    if return_path is not None and str(return_path).strip() in {"<>", ""}:
        return "null_sender"
    if from_address is None:
        return "null_sender"
    local = from_address.split("@", 1)[0]
    if local in _NO_REPLY_LOCAL_PARTS:
        return "bounce"
    if from_address in own_addresses:
        return "own_mail"
    return None


# --- the mail -----------------------------------------------------------------------------


def _disposition(part: Message) -> str:
    return str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()


def _filename(part: Message) -> str | None:
    name = part.get_filename()  # RFC 2231 parameters collapsed (charset'lang'value)
    if name is None:
        name = part.get_param("name")  # type: ignore[assignment]
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
    if not name:
        return None
    text = decode_header_text(name)  # Outlook's RFC 2047 encoded file names
    text = text.replace("/", "_").replace("\\", "_").strip()
    return text[:200] or None


def parse_mail(raw: bytes, *, own_addresses: frozenset[str] = frozenset()) -> ParsedMail:
    message = email.message_from_bytes(raw)
    from_name, from_address = _sender(message)
    plain: list[str] = []
    html: list[str] = []
    files: list[MailFile] = []
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        media = part.get_content_type()
        disposition = _disposition(part)
        name = _filename(part)
        if media == "message/rfc822" or media.startswith("message/"):
            continue
        is_body_text = (
            media in {"text/plain", "text/html"} and disposition != "attachment" and not name
        )
        if is_body_text:
            (plain if media == "text/plain" else html).append(_part_text(part))
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        if media.startswith("multipart/"):
            continue
        extension = media.split("/", 1)[1] if "/" in media else "bin"
        files.append(
            MailFile(
                filename=name
                or f"part-{index}.{re.sub(r'[^a-z0-9]+', '', extension)[:10] or 'bin'}",
                media_type=media,
                content=payload,
                inline=disposition != "attachment",
                content_id=next(iter(_msg_ids(part.get("Content-ID"))), None),
            )
        )
    text_plain = "\n\n".join(t.strip() for t in plain if t.strip())
    html_only = not text_plain and bool(html)
    text = text_plain if text_plain else "\n\n".join(html_to_text(h) for h in html).strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    date = None
    try:
        raw_date = message.get("Date")
        date = email.utils.parsedate_to_datetime(str(raw_date)) if raw_date else None
        if date is not None and date.tzinfo is None:
            date = None
    except (TypeError, ValueError, IndexError):
        date = None
    ids = _msg_ids(message.get("Message-ID"))
    return ParsedMail(
        message_id=ids[0][:900] if ids else None,
        from_address=from_address,
        from_name=from_name,
        subject=decode_header_text(message.get("Subject")),
        date=date,
        in_reply_to=_msg_ids(message.get("In-Reply-To")),
        references=_msg_ids(message.get("References")),
        text=text,
        html_only=html_only,
        files=files,
        automatic=automatic_reason(message, from_address=from_address, own_addresses=own_addresses),
    )


def dedupe_key(parsed: ParsedMail, raw: bytes) -> str:
    """What makes a mail the same mail in one mailbox: its Message-ID, or a hash of its bytes
    when it has none."""
    if parsed.message_id:
        return parsed.message_id
    return "sha256:" + hashlib.sha256(raw).hexdigest()


# --- replies ------------------------------------------------------------------------------

_ATTRIBUTION = re.compile(
    r"^\s*(On\b.{0,300}\bwrote:|Pada\b.{0,300}\bmenulis:|Le\b.{0,300}\ba écrit\s*:"
    r"|-{2,}\s*(Original Message|Pesan Asli|Forwarded message)\s*-{2,}"
    r"|_{10,}\s*$|From:\s.+)\s*$",
    re.IGNORECASE,
)


def trim_quoted(text: str) -> str:
    """A reply without the history it quotes: from an attribution line ("On ... wrote:",
    "Pada ... menulis:", "-----Original Message-----", Outlook's "From:" block) or a run of
    ``>`` lines that reaches the end. Trimmed only where something of the reply's own is
    left; otherwise the text is returned whole."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    for index, line in enumerate(lines):
        # An attribution may be wrapped over two lines ("On Mon, ... Budi\n<b@x> wrote:").
        joined = line if index + 1 >= len(lines) else f"{line} {lines[index + 1]}"
        if _ATTRIBUTION.match(line) or (
            re.match(r"^\s*(On|Pada)\b", line) and _ATTRIBUTION.match(joined)
        ):
            cut = index
            break
    kept = lines[:cut]
    # Trailing quoted lines (and blanks between them).
    while kept and (kept[-1].lstrip().startswith(">") or not kept[-1].strip()):
        kept.pop()
    # Quoted lines in between (a reply interleaved with quotes) stay: they are its context.
    result = "\n".join(kept).strip()
    return result if result else text.strip()
