"""A ticket's files from the attachments service's events: the table and the timeline lines.

Every event carries the file as it stands after the change, so the table is an upsert that
any order of arrival leaves right: a removal is never undone (``removed_at`` is kept once
set), a file found infected stays infected, and a scan result is never replaced by
``pending``. The timeline gets one line per event (two for a quarantine, see
:func:`record_quarantined`); the consumer's inbox makes a redelivered event write nothing.

The functions run in the consumer's transaction and never commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts.attachments import (
    AttachmentAdded,
    AttachmentEvent,
    AttachmentQuarantined,
    AttachmentRemoved,
    AttachmentSnapshot,
)
from tickets.attachments.models import TicketAttachment
from tickets.tickets.models import TimelineEntry

# The timeline's kinds for the files (documented in services/tickets/README.md).
ADDED = "attachment_added"
REMOVED = "attachment_removed"
QUARANTINED = "attachment_quarantined"  # public: the file was withdrawn
MALWARE_FOUND = "attachment_malware_found"  # internal: what the scanner found

INFECTED = "infected"


async def record_added(session: AsyncSession, *, event: AttachmentAdded, at: datetime) -> None:
    await _upsert(session, event.attachment)
    await _add_line(session, event, kind=ADDED, at=at)


async def record_removed(session: AsyncSession, *, event: AttachmentRemoved, at: datetime) -> None:
    # A removal without its time in the snapshot is dated by the event.
    await _upsert(session, event.attachment, removed_at=event.attachment.removed_at or at)
    await _add_line(session, event, kind=REMOVED, at=at)


async def record_quarantined(
    session: AsyncSession, *, event: AttachmentQuarantined, at: datetime
) -> None:
    """The file is infected: everyone who reads the ticket sees that it was withdrawn; only
    IT staff see the scanner's finding (a malware name means nothing to a requester and
    tells whoever planted the file which signature caught it)."""
    await _upsert(session, event.attachment, scan_status=INFECTED)
    await _add_line(session, event, kind=QUARANTINED, at=at, extra={"scan_status": INFECTED})
    await _add_line(
        session,
        event,
        kind=MALWARE_FOUND,
        at=at,
        extra={"signature": event.signature},
        internal=True,
    )


async def current_attachments(
    session: AsyncSession, *, ticket_id: uuid.UUID
) -> list[TicketAttachment]:
    """The ticket's files that are still there and not infected, oldest first."""
    query = (
        sa.select(TicketAttachment)
        .where(
            TicketAttachment.ticket_id == ticket_id,
            TicketAttachment.removed_at.is_(None),
            TicketAttachment.scan_status != INFECTED,
        )
        .order_by(TicketAttachment.uploaded_at, TicketAttachment.attachment_id)
    )
    return list((await session.scalars(query)).all())


async def _upsert(
    session: AsyncSession,
    snapshot: AttachmentSnapshot,
    *,
    scan_status: str | None = None,
    removed_at: datetime | None = None,
) -> None:
    row = TicketAttachment.__table__.c
    insert = pg_insert(TicketAttachment).values(
        attachment_id=snapshot.attachment_id,
        ticket_id=snapshot.ticket_id,
        kind=snapshot.kind,
        filename=snapshot.filename,
        media_type=snapshot.media_type,
        size=snapshot.size,
        scan_status=scan_status or snapshot.scan_status,
        uploaded_by=snapshot.uploaded_by,
        uploaded_by_name=snapshot.uploaded_by_name,
        uploaded_at=snapshot.uploaded_at,
        removed_at=removed_at or snapshot.removed_at,
    )
    new = insert.excluded
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[row.attachment_id],
            set_={
                "kind": new.kind,
                "filename": new.filename,
                "media_type": new.media_type,
                "size": new.size,
                "uploaded_by": new.uploaded_by,
                "uploaded_by_name": new.uploaded_by_name,
                "uploaded_at": new.uploaded_at,
                # Infected is final; an event sent before the scan finished (pending) does
                # not undo a result that arrived first.
                "scan_status": sa.case(
                    (row.scan_status == INFECTED, row.scan_status),
                    (new.scan_status == "pending", row.scan_status),
                    else_=new.scan_status,
                ),
                "removed_at": sa.func.coalesce(row.removed_at, new.removed_at),
            },
        )
    )


async def _add_line(
    session: AsyncSession,
    event: AttachmentEvent,
    *,
    kind: str,
    at: datetime,
    extra: dict[str, Any] | None = None,
    internal: bool = False,
) -> None:
    file = event.attachment
    await session.execute(
        sa.insert(TimelineEntry).values(
            ticket_id=file.ticket_id,
            at=at,
            kind=kind,
            actor_id=event.actor.user_id,
            actor_name=event.actor.name,
            actor_role=event.actor.role,
            before=None,
            after={
                "attachment_id": str(file.attachment_id),
                "filename": file.filename,
                "kind": file.kind,
                "media_type": file.media_type,
                "size": file.size,
                "uploaded_by_name": file.uploaded_by_name,
                **(extra or {}),
            },
            note=None,
            internal=internal,
        )
    )
