"""Client of the tickets service's internal intake API (``/internal/intake/...``).

Mail and chat make tickets and comments through it. Every call carries a ``source_key``
(e.g. ``mail:<mailbox id>:<Message-ID>``): the tickets service keeps it forever, so a
repeated call (a crash between the ticket and the caller's own bookkeeping, a provider's
retry) returns what the first one made (``created=False``) and makes nothing twice.

Outcomes:
- :class:`Made`: the ticket or comment exists (new or from an earlier call).
- :class:`TicketsUnavailable`: the tickets service could not answer (connection refused,
  timeout, 5xx, 429, or the internal token refused: a configuration to fix): nothing is
  known to be made; try again later with the same key.
- :class:`TicketClosed`: the ticket replied to is closed or rejected (409): make a new
  ticket that names ``number`` instead.
- :class:`IntakeRefused`: any other 4xx (an unknown unit, category or requester, a sender
  who is not a participant, a ticket that does not exist): retrying will not help.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from integrations.runtime import IntegrationsRuntime

TITLE_MIN = 3
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
CUT_NOTE = "\n\n[… dipotong / truncated]"


@dataclass(frozen=True)
class Made:
    ticket_id: uuid.UUID
    number: str
    status: str
    created: bool
    comment_id: uuid.UUID | None = None
    reopened: bool = False


class TicketsUnavailable(Exception):
    """The tickets service did not answer usefully (connect error, timeout, 5xx, 429)."""


class IntakeRefused(Exception):
    """The tickets service refused the request (4xx other than 409 ticket_closed)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" ({field})" if field else ""))
        self.status = status
        self.code = code
        self.message = message
        self.field = field


class TicketClosed(Exception):
    """The ticket is closed or rejected (409 ticket_closed): open a new one naming it."""

    def __init__(self, number: str) -> None:
        super().__init__(f"ticket {number} is closed")
        self.number = number


async def create_ticket(
    runtime: IntegrationsRuntime,
    *,
    source_key: str,
    channel: Literal["email", "webhook"],
    requester_id: uuid.UUID | None,
    unit_id: uuid.UUID,
    category_id: uuid.UUID,
    title: str,
    description: str,
    sender_name: str,
    contact_name: str | None = None,
    contact_email: str | None = None,
    contact_phone: str | None = None,
) -> Made:
    """A new ticket from a mail or chat message (or the one this ``source_key`` made)."""
    body: dict[str, Any] = {
        "source_key": source_key,
        "channel": channel,
        "requester_id": str(requester_id) if requester_id else None,
        "unit_id": str(unit_id),
        "category_id": str(category_id),
        "title": title,
        "description": description,
        "sender_name": sender_name,
        "contact_name": contact_name,
        "contact_email": contact_email,
        "contact_phone": contact_phone,
    }
    return await _post(runtime, "/internal/intake/tickets", body)


async def add_comment(
    runtime: IntegrationsRuntime,
    *,
    source_key: str,
    ticket_ref: str,
    author_id: uuid.UUID | None,
    author_name: str,
    contact: str | None,
    body: str,
) -> Made:
    """A public comment on the ticket ``ticket_ref`` (its id or number, e.g.
    ``TKT-2026-000123``); a resolved ticket is reopened first when the tickets service's
    policy says so (``Made.reopened``). Raises :class:`TicketClosed` for a closed ticket."""
    payload: dict[str, Any] = {
        "source_key": source_key,
        "ticket_ref": ticket_ref,
        "author_id": str(author_id) if author_id else None,
        "author_name": author_name,
        "contact": contact,
        "body": body,
    }
    return await _post(runtime, "/internal/intake/comments", payload)


async def _post(runtime: IntegrationsRuntime, path: str, body: dict[str, Any]) -> Made:
    url = runtime.settings.tickets_url.rstrip("/") + path
    try:
        response = await runtime.internal.post(
            url, json=body, timeout=runtime.settings.internal_timeout_seconds
        )
    except httpx.HTTPError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise TicketsUnavailable(f"tickets service unreachable: {reason}") from exc
    status = response.status_code
    if status in (200, 201):
        try:
            data = response.json()
            return Made(
                ticket_id=uuid.UUID(data["ticket_id"]),
                number=str(data["number"]),
                status=str(data["status"]),
                created=bool(data["created"]),
                comment_id=uuid.UUID(data["comment_id"]) if data.get("comment_id") else None,
                reopened=bool(data.get("reopened", False)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TicketsUnavailable(f"tickets service answered {status} with a bad body") from exc
    if status == 429 or status >= 500:
        raise TicketsUnavailable(f"tickets service answered {status}")
    code, message, field, extra = _error_of(response)
    if status == 401 or code == "internal_api_disabled":
        # The internal token is wrong or missing on one side: a deployment's mistake, not
        # the message's. Kept for later (it is fixed without touching the message).
        raise TicketsUnavailable(f"tickets service refused the internal token: {code}")
    if status == 409 and code == "ticket_closed":
        raise TicketClosed(str(extra.get("number") or body.get("ticket_ref") or ""))
    raise IntakeRefused(status, code, message, field)


def _error_of(response: httpx.Response) -> tuple[str, str, str | None, dict[str, Any]]:
    try:
        error = response.json()["error"]
        fields = error.get("fields") or []
        field = fields[0].get("field") if fields else None
        return str(error["code"]), str(error.get("message", "")), field, error
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"http_{response.status_code}", response.text[:200], None, {}


def shape_title(text: str | None, *, fallback: str = "(tanpa subjek)") -> str:
    """A ticket title from a mail subject or a chat message: one line, whitespace collapsed,
    control characters dropped, 3..200 characters (cut at a word with "…" when longer; the
    fallback, padded if need be, when shorter)."""
    cleaned = " ".join(_printable(text or "").split())
    if len(cleaned) < TITLE_MIN:
        cleaned = " ".join(_printable(fallback).split()) or "(tanpa subjek)"
        if len(cleaned) < TITLE_MIN:
            cleaned = cleaned.ljust(TITLE_MIN, ".")
    if len(cleaned) > TITLE_MAX:
        cut = cleaned[: TITLE_MAX - 1]
        space = cut.rfind(" ")
        if space >= TITLE_MAX // 2:
            cut = cut[:space]
        cleaned = cut.rstrip() + "…"
    return cleaned


def shape_description(text: str) -> str:
    """A ticket description or comment body: control characters other than newlines and
    tabs dropped, line ends normalised, 1..10,000 characters (a note at the end when cut;
    "(kosong / empty)" when nothing is left)."""
    cleaned = _printable(text.replace("\r\n", "\n").replace("\r", "\n"), keep="\n\t").strip()
    if not cleaned:
        return "(kosong / empty)"
    if len(cleaned) > DESCRIPTION_MAX:
        cleaned = cleaned[: DESCRIPTION_MAX - len(CUT_NOTE)].rstrip() + CUT_NOTE
    return cleaned


def _printable(text: str, keep: str = "") -> str:
    return "".join(
        ch if (ch in keep or ch.isprintable() or ch == " ") else ("" if ch not in "\t\n\r" else " ")
        for ch in text
    )
