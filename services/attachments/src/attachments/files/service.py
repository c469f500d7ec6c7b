"""The life of a file's row: reserved while its object is written, stored with the event
``attachment.added``, scanned, removed; and who may do what with it.

Service functions take a session and never commit: the route or the worker owns the unit
of work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.files.models import Attachment
from attachments.settings import AttachmentsSettings
from attachments.tickets.models import KnownTicket
from attachments.tickets.service import OPEN_STATUSES
from helpdesk_common.auth import Principal
from helpdesk_common.contracts.attachments import (
    AttachmentAdded,
    AttachmentEvent,
    AttachmentKind,
    AttachmentQuarantined,
    AttachmentRemoved,
    AttachmentSnapshot,
    AttachmentTicket,
    ScanStatus,
)
from helpdesk_common.contracts.identity import IT_STAFF_ROLES
from helpdesk_common.contracts.tickets import Actor
from helpdesk_common.errors import Conflict, InvalidInput, NotFound, PermissionDenied, TooLarge
from helpdesk_common.outbox import add_event
from helpdesk_common.sizes import file_size

PRODUCER = "attachments"
UPLOADS = Counter("attachments_uploaded_total", "Files stored, by type", ["type"])
DOWNLOADS = Counter("attachments_downloads_total", "File downloads started")
SCANS = Counter("attachments_scans_total", "Scanner verdicts", ["status"])
KINDS: tuple[AttachmentKind, ...] = ("supporting", "evidence", "assignment_letter")
SYSTEM = Actor(user_id=None, name="Sistem", role="system")
# The uploader of a file that came by mail or chat from someone who is not a user: a fixed
# id (the tickets service's intake uses the same for the tickets it makes), role "system",
# the sender's name as given.
INTAKE_UPLOADER_ID = uuid.uuid5(uuid.NAMESPACE_URL, "helpdesk:intake")


@dataclass(frozen=True)
class UploadedBy:
    """Who stores a file: a user (their token's principal, or the directory's entry for a
    file that came by mail or chat) or the intake system on behalf of an unknown sender."""

    user_id: uuid.UUID
    name: str
    role: str

    @classmethod
    def of(cls, principal: Principal) -> UploadedBy:
        return cls(user_id=principal.user_id, name=principal.name, role=principal.role)

    @classmethod
    def intake(cls, name: str) -> UploadedBy:
        return cls(user_id=INTAKE_UPLOADER_ID, name=name, role="system")

    @property
    def actor(self) -> Actor:
        # The intake system keeps its id here, as on the tickets it makes (the tickets
        # service's intake actor): the ticket's timeline names one system actor throughout.
        return Actor(user_id=self.user_id, name=self.name, role=self.role)


def now() -> datetime:
    return datetime.now(UTC)


def allowed_kinds(principal: Principal) -> list[AttachmentKind]:
    if principal.role in IT_STAFF_ROLES:
        return list(KINDS)
    if principal.role == "requester":
        return ["supporting"]
    return []


def choose_kind(principal: Principal, requested: str | None) -> AttachmentKind:
    """The kind asked for, or the caller's usual one (a requester's supporting document,
    an agent's evidence); only IT staff upload evidence and assignment letters."""
    if not requested:
        return "evidence" if principal.role in IT_STAFF_ROLES else "supporting"
    if requested not in KINDS:
        raise InvalidInput("invalid_kind", f"kind must be one of {', '.join(KINDS)}", field="kind")
    if requested not in allowed_kinds(principal):
        raise PermissionDenied(
            "kind_not_allowed",
            "Only IT staff upload evidence and assignment letters",
            field="kind",
        )
    return requested


async def ticket_usage(session: AsyncSession, *, ticket_id: uuid.UUID) -> tuple[int, int]:
    """(count, bytes) of the ticket's files that count against its limits: stored or being
    uploaded, not quarantined. A handful of rows by the ticket's index; the caller holds
    the ticket row's lock, so two uploads cannot both take the last place."""
    row = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Attachment.size), 0)).where(
                Attachment.ticket_id == ticket_id,
                Attachment.state.in_(("uploading", "stored")),
                Attachment.scan_status != "infected",
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def check_limits(
    session: AsyncSession, *, ticket: KnownTicket, size: int, settings: AttachmentsSettings
) -> None:
    count, used = await ticket_usage(session, ticket_id=ticket.id)
    if count + 1 > settings.max_files_per_ticket:
        raise Conflict(
            "too_many_files",
            f"Ticket {ticket.number} already has {count} files, the most it"
            f" takes is {settings.max_files_per_ticket}",
            field="file",
            extra={"limit": settings.max_files_per_ticket},
        )
    if used + size > settings.max_ticket_bytes:
        raise TooLarge(
            "ticket_files_too_large",
            f"The files of ticket {ticket.number} would exceed"
            f" {file_size(settings.max_ticket_bytes)} together"
            f" ({settings.max_ticket_bytes} bytes)",
            field="file",
            extra={"limit_bytes": settings.max_ticket_bytes},
        )


def idempotency_cutoff(settings: AttachmentsSettings) -> datetime:
    return now() - timedelta(hours=settings.idempotency_hours)


async def find_by_key(
    session: AsyncSession, *, uploader: uuid.UUID, key: str, since: datetime
) -> Attachment | None:
    """The upload this user made with this Idempotency-Key within the window."""
    return await session.scalar(
        sa.select(Attachment).where(
            Attachment.uploaded_by == uploader,
            Attachment.idempotency_key == key,
            Attachment.uploaded_at >= since,
        )
    )


async def find_by_source(session: AsyncSession, *, source_key: str) -> Attachment | None:
    """The file an intake channel stored under this source key (kept forever)."""
    return await session.scalar(sa.select(Attachment).where(Attachment.source_key == source_key))


async def forget_old_key(
    session: AsyncSession, *, uploader: uuid.UUID, key: str, settings: AttachmentsSettings
) -> None:
    """A key older than the window may be used again: the old upload lets go of it."""
    await session.execute(
        sa.update(Attachment)
        .where(
            Attachment.uploaded_by == uploader,
            Attachment.idempotency_key == key,
            Attachment.uploaded_at < idempotency_cutoff(settings),
        )
        .values(idempotency_key=None)
    )


def first_scan_status(size: int, settings: AttachmentsSettings) -> ScanStatus:
    if not settings.scan_enabled:
        return "not_scanned"
    return "too_large" if size > settings.scan_max_bytes else "pending"


async def reserve(
    session: AsyncSession,
    *,
    ticket: KnownTicket,
    uploaded_by: UploadedBy,
    kind: AttachmentKind,
    filename: str,
    media_type: str,
    type_name: str,
    size: int,
    sha256: str,
    metadata_stripped: bool,
    has_thumbnail: bool,
    idempotency_key: str | None,
    settings: AttachmentsSettings,
    source_key: str | None = None,
) -> Attachment:
    """The row of a file about to be written to storage (state ``uploading``), its size
    counted against the ticket's limits (the ticket row is locked by the caller)."""
    await check_limits(session, ticket=ticket, size=size, settings=settings)
    attachment_id = uuid.uuid4()
    # A random key: nothing of the user's name or content reaches the storage's paths.
    object_key = f"files/{attachment_id.hex[:2]}/{attachment_id.hex}"
    stamp = now()
    attachment = Attachment(
        id=attachment_id,
        ticket_id=ticket.id,
        kind=kind,
        filename=filename,
        media_type=media_type,
        type_name=type_name,
        size=size,
        sha256=sha256,
        object_key=object_key,
        thumbnail_key=f"thumbnails/{attachment_id.hex[:2]}/{attachment_id.hex}.webp"
        if has_thumbnail
        else None,
        state="uploading",
        scan_status=first_scan_status(size, settings),
        scan_signature=None,
        scanned_at=None,
        metadata_stripped=metadata_stripped,
        uploaded_by=uploaded_by.user_id,
        uploaded_by_name=uploaded_by.name,
        uploaded_by_role=uploaded_by.role,
        uploaded_at=stamp,
        removed_at=None,
        removed_by=None,
        updated_at=stamp,
        idempotency_key=idempotency_key,
        source_key=source_key,
    )
    session.add(attachment)
    await session.flush()
    return attachment


def snapshot(attachment: Attachment) -> AttachmentSnapshot:
    return AttachmentSnapshot(
        attachment_id=attachment.id,
        ticket_id=attachment.ticket_id,
        kind=attachment.kind,  # type: ignore[arg-type]
        filename=attachment.filename,
        media_type=attachment.media_type,
        size=attachment.size,
        sha256=attachment.sha256,
        scan_status=attachment.scan_status,  # type: ignore[arg-type]
        uploaded_by=attachment.uploaded_by,
        uploaded_by_name=attachment.uploaded_by_name,
        uploaded_at=attachment.uploaded_at,
        removed_at=attachment.removed_at,
    )


def ticket_of(ticket: KnownTicket) -> AttachmentTicket:
    return AttachmentTicket(
        ticket_id=ticket.id,
        number=ticket.number,
        title=ticket.title,
        unit_id=ticket.unit_id,
        requester_id=ticket.requester_id,
        assignee_id=ticket.assignee_id,
        status=ticket.status,
    )


def actor_of(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, name=principal.name, role=principal.role)


async def _publish(
    session: AsyncSession,
    event: type[AttachmentEvent],
    attachment: Attachment,
    ticket: KnownTicket,
    actor: Actor,
    **extra: str,
) -> None:
    payload = event(attachment=snapshot(attachment), ticket=ticket_of(ticket), actor=actor, **extra)
    await add_event(session, payload, producer=PRODUCER)


async def complete(
    session: AsyncSession, *, attachment: Attachment, ticket: KnownTicket, actor: Actor
) -> None:
    """The object is written: the file exists from now on (``attachment.added``)."""
    attachment.state = "stored"
    attachment.updated_at = now()
    await _publish(session, AttachmentAdded, attachment, ticket, actor)


async def release(session: AsyncSession, *, attachment_id: uuid.UUID) -> Attachment | None:
    """Forget a reservation whose object was not (or not surely) written; the caller
    removes the object. Its size no longer counts against the ticket."""
    attachment = await session.get(Attachment, attachment_id, with_for_update=True)
    if attachment is None or attachment.state != "uploading":
        return None
    await session.delete(attachment)
    return attachment


def is_staff(principal: Principal) -> bool:
    return principal.role != "requester"


def may_download(attachment: Attachment, principal: Principal) -> bool:
    if attachment.scan_status == "infected":
        return False
    if attachment.scan_status in ("clean", "not_scanned"):
        return True
    # Not (or not yet) scanned: internal staff may take the risk, knowingly; requesters wait.
    return is_staff(principal)


def check_download(attachment: Attachment, principal: Principal) -> None:
    if attachment.scan_status == "infected":
        raise Conflict(
            "attachment_quarantined",
            "The file was found to contain malware and is quarantined; it cannot be downloaded",
        )
    if not may_download(attachment, principal):
        if attachment.scan_status == "too_large":
            raise Conflict(
                "attachment_not_scannable",
                "The file is too large to be checked for malware; ask the IT staff for it",
            )
        raise Conflict(
            "scan_pending",
            "The file is still being checked for malware; try again shortly",
        )


async def visible_attachment(
    session: AsyncSession, *, attachment_id: uuid.UUID, principal: Principal
) -> tuple[Attachment, KnownTicket]:
    """The stored file and its ticket, if the caller may see the ticket (404 otherwise)."""
    found = (
        await session.execute(
            sa.select(Attachment, KnownTicket)
            .join(KnownTicket, KnownTicket.id == Attachment.ticket_id)
            .where(Attachment.id == attachment_id, Attachment.state == "stored")
        )
    ).first()
    if found is None:
        raise NotFound("attachment_not_found", "Attachment not found")
    attachment, ticket = found
    if principal.role == "requester" and ticket.unit_id != principal.unit_id:
        raise NotFound("attachment_not_found", "Attachment not found")
    return attachment, ticket


def check_delete(
    attachment: Attachment,
    ticket: KnownTicket,
    principal: Principal,
    settings: AttachmentsSettings,
) -> None:
    if principal.role == "admin":
        return
    if settings.delete_policy == "admin":
        raise PermissionDenied("delete_not_allowed", "Only administrators delete files")
    if attachment.uploaded_by != principal.user_id:
        raise PermissionDenied(
            "delete_not_allowed", "Only the uploader or an administrator deletes a file"
        )
    if ticket.status not in OPEN_STATUSES:
        raise PermissionDenied(
            "delete_not_allowed",
            f"Ticket {ticket.number} is {ticket.status}: only an administrator deletes its files",
        )


async def remove(
    session: AsyncSession,
    *,
    attachment: Attachment,
    ticket: KnownTicket,
    principal: Principal,
) -> None:
    """Gone for users at once (``attachment.removed``); the object after the retention."""
    stamp = now()
    attachment.state = "removed"
    attachment.removed_at = stamp
    attachment.removed_by = principal.user_id
    attachment.updated_at = stamp
    await _publish(session, AttachmentRemoved, attachment, ticket, actor_of(principal))


async def record_scan(
    session: AsyncSession,
    *,
    attachment: Attachment,
    status: ScanStatus,
    signature: str | None,
) -> None:
    """The scanner's verdict; malware: quarantined (never served), on the timeline."""
    stamp = now()
    attachment.scan_status = status
    attachment.scan_signature = signature
    attachment.scanned_at = stamp
    attachment.updated_at = stamp
    if status != "infected":
        return
    ticket = await session.get(KnownTicket, attachment.ticket_id)
    assert ticket is not None  # a file's ticket row is never deleted
    await _publish(
        session,
        AttachmentQuarantined,
        attachment,
        ticket,
        SYSTEM,
        signature=signature or "unknown",
    )
