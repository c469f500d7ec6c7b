"""Client of the attachments service's internal upload
(``POST /internal/tickets/{ticket_id}/attachments``).

Mail and chat store a message's files on the ticket it made or commented on. The
attachments service checks each file as it checks a user's upload (type by content, size
limits, the ticket open, the uploader's rights) and scans it; every call carries a
``source_key`` (e.g. ``mail:<mailbox id>:<Message-ID>:<part>``), kept forever there, so a
repeated call returns the first file and stores nothing twice.

Outcomes:
- :class:`Attached` with ``ok=True``: the file is on the ticket (new, or from an earlier
  call with this key).
- :class:`Attached` with ``ok=False``: refused for good (``code``: ``unsupported_type``,
  ``file_too_large``, ``too_many_files``, ``ticket_closed``, ... as the service names it;
  ``no_attachments_service`` when ``settings.attachments_url`` is empty). Record it, do
  not retry.
- :class:`AttachmentsUnavailable`: the service could not answer (connection refused,
  timeout, 5xx, 429): nothing is known to be stored; try again later with the same key.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx

from integrations.runtime import IntegrationsRuntime

NO_SERVICE = "no_attachments_service"
# Refusals that say this service is misconfigured, not that the file is wrong: the file
# waits (AttachmentsUnavailable) until the token is put right.
NOT_THE_FILES_FAULT = frozenset({"invalid_internal_token", "internal_api_disabled"})
# A media type as a header may carry it; anything else (a mail's garbled Content-Type)
# goes as application/octet-stream: the attachments service judges the type by content.
MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")
FILENAME_MAX = 1000
NAME_MAX = 200


@dataclass(frozen=True)
class Attached:
    ok: bool
    attachment_id: uuid.UUID | None
    code: str | None
    message: str | None


class AttachmentsUnavailable(Exception):
    """The attachments service did not answer usefully (connect error, timeout, 5xx, 429)."""


async def attach_file(
    runtime: IntegrationsRuntime,
    *,
    source_key: str,
    ticket_id: uuid.UUID,
    filename: str,
    content: bytes,
    media_type: str,
    uploaded_by: uuid.UUID | None,
    uploaded_by_name: str,
) -> Attached:
    """Store ``content`` on the ticket as a supporting document, uploaded by the user
    ``uploaded_by`` (checked as that user) or, for a sender who is not a user (None), by
    the intake system named ``uploaded_by_name``."""
    base = runtime.settings.attachments_url
    if not base:
        return Attached(
            ok=False,
            attachment_id=None,
            code=NO_SERVICE,
            message="No attachments service is configured; the file was not stored",
        )
    url = f"{base.rstrip('/')}/internal/tickets/{ticket_id}/attachments"
    # NUL is refused in any query (422): a mail's file name or sender may carry one.
    params = {
        "filename": filename.replace("\x00", "")[:FILENAME_MAX] or "lampiran",
        "source_key": source_key,
        "uploaded_by": str(uploaded_by) if uploaded_by else "",
        "uploaded_by_name": uploaded_by_name.replace("\x00", "").strip()[:NAME_MAX] or "?",
    }
    declared = media_type.strip()
    content_type = declared if MEDIA_TYPE.fullmatch(declared) else "application/octet-stream"
    try:
        response = await runtime.internal.post(
            url,
            params=params,
            content=content,
            headers={"Content-Type": content_type},
            timeout=runtime.settings.internal_timeout_seconds,
        )
    except httpx.HTTPError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise AttachmentsUnavailable(f"attachments service unreachable: {reason}") from exc
    status = response.status_code
    if status in (200, 201):
        try:
            attachment_id = uuid.UUID(response.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AttachmentsUnavailable(
                f"attachments service answered {status} with a bad body"
            ) from exc
        return Attached(ok=True, attachment_id=attachment_id, code=None, message=None)
    if status == 429 or status >= 500:
        raise AttachmentsUnavailable(f"attachments service answered {status}: {_code(response)}")
    code, message = _error_of(response)
    if code in NOT_THE_FILES_FAULT:
        raise AttachmentsUnavailable(f"attachments service refused the caller: {code}")
    return Attached(ok=False, attachment_id=None, code=code, message=message)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"http_{response.status_code}", response.text[:200]


def _code(response: httpx.Response) -> str:
    return _error_of(response)[0]
