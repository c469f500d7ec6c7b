"""Events published by the attachments service (``attachment.*``).

Each carries the file's metadata as it stands after the change and the ticket it belongs to
as the attachments service knows it (number, title, unit, requester, assignee), so the
tickets service (the timeline) and the notifications service (the assignee) never call
back. The file's bytes never travel on the bus.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from helpdesk_common.contracts.envelope import EventPayload
from helpdesk_common.contracts.tickets import Actor

# supporting: the requester's supporting documents; evidence: an agent's proof of the work
# done; assignment_letter: the formal surat tugas / disposisi, uploaded by staff.
AttachmentKind = Literal["supporting", "evidence", "assignment_letter"]
# pending: not scanned yet (or the scanner is down); clean / infected: scanned;
# too_large: over what the scanner accepts (never "clean"); not_scanned: scanning is off.
ScanStatus = Literal["pending", "clean", "infected", "too_large", "not_scanned"]


class AttachmentTicket(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    ticket_id: uuid.UUID
    number: str | None = None
    title: str | None = None
    unit_id: uuid.UUID | None = None
    requester_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None
    status: str | None = None


class AttachmentSnapshot(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    attachment_id: uuid.UUID
    ticket_id: uuid.UUID
    kind: AttachmentKind
    filename: str
    media_type: str
    size: int
    sha256: str
    scan_status: ScanStatus
    uploaded_by: uuid.UUID
    uploaded_by_name: str | None = None
    uploaded_at: datetime
    removed_at: datetime | None = None


class AttachmentEvent(EventPayload):
    attachment: AttachmentSnapshot
    ticket: AttachmentTicket
    actor: Actor


class AttachmentAdded(AttachmentEvent):
    """A file was stored on a ticket (its scan may still be pending)."""

    event_type: ClassVar[str] = "attachment.added"


class AttachmentRemoved(AttachmentEvent):
    """A file was deleted from a ticket (its object goes after the retention period)."""

    event_type: ClassVar[str] = "attachment.removed"


class AttachmentQuarantined(AttachmentEvent):
    """The scanner found malware in a file: it is never served again. ``actor`` is the
    system; ``signature`` names what the scanner found."""

    event_type: ClassVar[str] = "attachment.quarantined"
    signature: str
