"""The providers' webhook formats: each request's signature, and its messages in one shape.

- **generic** (our own format): ``X-Helpdesk-Timestamp`` (unix seconds) and
  ``X-Helpdesk-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``; the
  timestamp within ``chat_signature_tolerance_seconds`` of our clock (replays of an old
  request are refused). The body is one message (:class:`GenericMessage`).
- **whatsapp** (Meta's WhatsApp Cloud API): ``X-Hub-Signature-256: sha256=<hex
  HMAC-SHA256(app secret, raw body)>``; the body ``{"object": "whatsapp_business_account",
  "entry": [{"changes": [{"field": "messages", "value": {"contacts": [...], "messages":
  [...], "statuses": [...]}}]}]}``. Each message carries its own ``timestamp``: one older than
  ``chat_message_max_age_seconds`` makes the request stale. Statuses (sent, delivered, read)
  are acknowledged and ignored.

Signatures are compared in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from helpdesk_common.inputs import SafeText
from integrations.chat.schemas import GenericMessage

SIGNATURE_PREFIX = "sha256="

M = TypeVar("M", bound=BaseModel)


class BadSignature(Exception):
    """Missing, malformed, wrong or stale: the request is refused (401) and nothing kept."""


class StaleMessage(Exception):
    """A correctly signed request carrying a message older than the accepted age."""


class BadPayload(Exception):
    """The body is signed but not the provider's format (400 invalid JSON / 422 a field)."""

    def __init__(self, errors: list[dict[str, Any]], *, invalid_json: bool = False) -> None:
        super().__init__("bad payload")
        self.errors = errors
        self.invalid_json = invalid_json


@dataclass(frozen=True)
class Inbound:
    """One message in the providers' common shape."""

    provider_message_id: str
    conversation_id: str
    sender_name: str
    # Shown in the message log: a phone number, an e-mail address or the provider's id.
    sender_contact: str
    contact_email: str | None
    contact_phone: str | None
    text: str
    sent_at: datetime | None


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _matches(header: str | None, expected_hex: str) -> bool:
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header[len(SIGNATURE_PREFIX) :].strip().lower()
    return hmac.compare_digest(given.encode(), expected_hex.encode())


def verify_generic(
    *,
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: datetime,
    tolerance_seconds: int,
) -> None:
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12:
        raise BadSignature("missing or malformed timestamp")
    if abs(now.timestamp() - int(timestamp)) > tolerance_seconds:
        raise BadSignature("timestamp outside the tolerance")
    if not _matches(signature, hmac_hex(secret, timestamp.encode() + b"." + body)):
        raise BadSignature("signature mismatch")


def verify_whatsapp(*, secret: str, body: bytes, signature: str | None) -> None:
    if not _matches(signature, hmac_hex(secret, body)):
        raise BadSignature("signature mismatch")


def _validate(model: type[M], body: bytes) -> M:
    try:
        return TypeAdapter(model).validate_json(body)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [
            dict(error) for error in exc.errors(include_url=False, include_input=False)
        ]
        if any(error.get("type") == "json_invalid" for error in errors):
            raise BadPayload(errors, invalid_json=True) from None
        raise BadPayload(errors) from None


def parse_generic(body: bytes) -> list[Inbound]:
    message = _validate(GenericMessage, body)
    sender = message.sender
    return [
        Inbound(
            provider_message_id=message.message_id,
            conversation_id=message.conversation_id,
            sender_name=sender.name,
            sender_contact=sender.email or sender.phone or sender.id,
            contact_email=sender.email,
            contact_phone=sender.phone,
            text=message.text,
            sent_at=message.sent_at,
        )
    ]


# WhatsApp Cloud API (fields we do not use are ignored: Meta adds fields over time).

WaText = Annotated[SafeText, StringConstraints(max_length=100_000)]
WaId = Annotated[SafeText, StringConstraints(min_length=1, max_length=300)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WaTextBody(_Lenient):
    body: WaText


class WaMedia(_Lenient):
    caption: WaText | None = None
    filename: WaText | None = None
    mime_type: WaText | None = None


class WaMessage(_Lenient):
    sender: Annotated[str, StringConstraints(pattern=r"^[0-9]{3,20}$")] = Field(alias="from")
    id: WaId
    timestamp: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}$")]
    type: Annotated[SafeText, StringConstraints(max_length=50)]
    text: WaTextBody | None = None
    image: WaMedia | None = None
    video: WaMedia | None = None
    audio: WaMedia | None = None
    document: WaMedia | None = None
    sticker: WaMedia | None = None
    location: dict[str, Any] | None = None
    button: dict[str, Any] | None = None
    interactive: dict[str, Any] | None = None


class WaProfile(_Lenient):
    name: Annotated[SafeText, StringConstraints(max_length=300)] | None = None


class WaContact(_Lenient):
    wa_id: Annotated[SafeText, StringConstraints(max_length=30)] | None = None
    profile: WaProfile | None = None


class WaValue(_Lenient):
    contacts: list[WaContact] = []
    messages: list[WaMessage] = []
    statuses: list[dict[str, Any]] = []


class WaChange(_Lenient):
    field: str = "messages"
    value: WaValue


class WaEntry(_Lenient):
    changes: list[WaChange] = []


class WaPayload(_Lenient):
    object: Annotated[SafeText, StringConstraints(max_length=100)]
    entry: list[WaEntry]


MEDIA_LABELS = {
    "image": "gambar / image",
    "video": "video",
    "audio": "pesan suara / audio",
    "document": "dokumen / document",
    "sticker": "stiker / sticker",
}


def _short(value: Any) -> str:
    return str(value).replace("\x00", "")[:500] if value is not None else ""


def whatsapp_text(message: WaMessage) -> str:
    """A message's text, or a description of what it carried (media files are not fetched:
    that needs the business account's access token)."""
    if message.type == "text" and message.text is not None:
        return message.text.body
    media = getattr(message, message.type, None) if message.type in MEDIA_LABELS else None
    if isinstance(media, WaMedia):
        label = f"[{MEDIA_LABELS[message.type]}"
        label += f": {media.filename}]" if media.filename else "]"
        return f"{label} {media.caption}".strip() if media.caption else label
    if message.type == "location" and message.location:
        place = message.location
        parts = [_short(place.get(k)) for k in ("name", "address") if place.get(k)]
        where = f"{_short(place.get('latitude'))},{_short(place.get('longitude'))}"
        return "[lokasi / location] " + " - ".join([*parts, where])
    if message.type == "button" and message.button:
        return _short(message.button.get("text") or message.button.get("payload"))
    if message.type == "interactive" and message.interactive:
        reply = message.interactive.get("button_reply") or message.interactive.get("list_reply")
        if isinstance(reply, dict):
            return _short(reply.get("title"))
    return f"[pesan jenis {message.type} / message of type {message.type}]"


def parse_whatsapp(body: bytes, *, now: datetime, max_age_seconds: int) -> list[Inbound]:
    payload = _validate(WaPayload, body)
    found: list[Inbound] = []
    for entry in payload.entry:
        for change in entry.changes:
            if change.field != "messages":
                continue
            names = {
                contact.wa_id: contact.profile.name
                for contact in change.value.contacts
                if contact.wa_id and contact.profile and contact.profile.name
            }
            for message in change.value.messages:
                if message.type == "reaction":
                    continue  # an emoji on an earlier message: nothing to add to a ticket
                sent_at = datetime.fromtimestamp(int(message.timestamp), UTC)
                if (now - sent_at).total_seconds() > max_age_seconds:
                    raise StaleMessage(message.id)
                phone = f"+{message.sender}"
                found.append(
                    Inbound(
                        provider_message_id=message.id,
                        conversation_id=message.sender,
                        sender_name=names.get(message.sender) or phone,
                        sender_contact=phone,
                        contact_email=None,
                        contact_phone=phone,
                        text=whatsapp_text(message) or "(kosong / empty)",
                        sent_at=sent_at,
                    )
                )
    return found


def same_text(given: str, expected: str) -> bool:
    """Constant-time equality of two texts (a verify token)."""
    return hmac.compare_digest(given.encode(), expected.encode())
