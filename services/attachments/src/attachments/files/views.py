"""The files API: upload to a ticket, list a ticket's files, download, thumbnail, delete.

An upload is three short units of work around the slow parts, so no database connection
waits on a client's upload or on the object store: (1) the ticket is checked before a byte
is read; (2) after the body is spooled and checked, the file's row is reserved against
the ticket's limits (``uploading``); (3) once its object is written the row becomes
``stored`` with ``attachment.added``. A failure between (2) and (3) leaves a reservation
that is released at once or, if the database is gone too, by the sweep
(files/sweeper.py): never a row without its object, nor an object nobody points at.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.content import CATALOGUE, sanitise_filename
from attachments.files import service
from attachments.files.checks import Checked, check_upload
from attachments.files.intake import Upload, file_too_large, receive_upload
from attachments.files.models import Attachment
from attachments.files.ranges import requested_range
from attachments.files.schemas import AttachmentOut, FileTypeOut, PolicyOut, Uploader
from attachments.runtime import AttachmentsRuntime, RuntimeDep
from attachments.storage.s3 import ObjectMissing, StorageUnavailable
from attachments.tickets.models import KnownTicket
from attachments.tickets.service import check_takes_files, visible_ticket
from helpdesk_common.auth import CurrentUser, Principal
from helpdesk_common.contracts.attachments import AttachmentKind
from helpdesk_common.contracts.tickets import Actor
from helpdesk_common.downloads import content_disposition
from helpdesk_common.errors import NotFound, Unavailable
from helpdesk_common.idempotency import IDEMPOTENCY_RESPONSES, IdempotencyKey, key_reused
from helpdesk_common.pagination import (
    CursorQuery,
    Page,
    after,
    cursor_datetime,
    cursor_uuid,
    decode_cursor,
    encode_cursor,
    page_of,
)
from helpdesk_common.responses import errors

log = logging.getLogger("helpdesk.attachments.files")
router = APIRouter(tags=["attachments"])

LISTING = "attachments"
# Multipart framing around the file: a declared body this much over the file limit is
# refused before reading it.
FRAMING_ALLOWANCE = 64 * 1024
# A concurrent request with the same Idempotency-Key waits this long for the first.
IDEMPOTENT_WAIT_SECONDS = 30.0
_PREFIX = re.compile(r"/api/[a-z]+")

# The ticket an upload goes to, refused if the uploader may not add to it: called before
# the body is read (``lock`` False) and again, locking the ticket's row, to reserve.
TicketGate = Callable[[AsyncSession, bool], Awaitable[KnownTicket]]

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file: multipart/form-data with the part `file` (and optionally"
        " `kind`), or the raw bytes with `?filename=`.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "kind": {
                            "type": "string",
                            "enum": list(service.KINDS),
                        },
                    },
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def storage_unavailable() -> Unavailable:
    return Unavailable(
        "storage_unavailable", "The file storage is not reachable; try again shortly"
    )


def _prefix(request: Request) -> str:
    """The path prefix the client reaches this service under (the gateway's /api/<name>)."""
    prefix = request.headers.get("x-forwarded-prefix", "")
    return prefix if _PREFIX.fullmatch(prefix) else ""


def present(attachment: Attachment, principal: Principal | None, prefix: str) -> AttachmentOut:
    """The attachment as ``principal`` sees it (None: another service, as staff would)."""
    file_type = CATALOGUE.get(attachment.type_name)
    base = f"{prefix}/attachments/{attachment.id}"
    staff = principal is None or service.is_staff(principal)
    downloadable = attachment.state == "stored" and (
        service.may_download(attachment, principal)
        if principal is not None
        else attachment.scan_status != "infected"
    )
    return AttachmentOut(
        id=attachment.id,
        ticket_id=attachment.ticket_id,
        kind=attachment.kind,  # type: ignore[arg-type]
        filename=attachment.filename,
        media_type=attachment.media_type,
        type=attachment.type_name,
        size=attachment.size,
        sha256=attachment.sha256,
        scan_status=attachment.scan_status,  # type: ignore[arg-type]
        scan_signature=attachment.scan_signature if staff else None,
        downloadable=downloadable,
        inline=bool(file_type and file_type.inline),
        has_thumbnail=attachment.thumbnail_key is not None,
        metadata_stripped=attachment.metadata_stripped,
        uploaded_by=Uploader(
            id=attachment.uploaded_by,
            name=attachment.uploaded_by_name,
            role=attachment.uploaded_by_role,
        ),
        uploaded_at=attachment.uploaded_at,
        content_url=f"{base}/content",
        thumbnail_url=f"{base}/thumbnail" if attachment.thumbnail_key else None,
    )


@router.get("/policy", response_model=PolicyOut)
async def policy(principal: CurrentUser, runtime: RuntimeDep) -> PolicyOut:
    """What is accepted (types, sizes, counts), whether files are scanned, who deletes."""
    settings = runtime.settings
    return PolicyOut(
        allowed_types=[
            FileTypeOut(
                name=name,
                media_type=CATALOGUE[name].media_type,
                extensions=list(CATALOGUE[name].extensions),
            )
            for name in settings.allowed_types
        ],
        max_file_bytes=settings.max_file_bytes,
        max_files_per_ticket=settings.max_files_per_ticket,
        max_ticket_bytes=settings.max_ticket_bytes,
        scan_enabled=settings.scan_enabled,
        delete_policy=settings.delete_policy,
        kinds=service.allowed_kinds(principal),
    )


# -- upload ----------------------------------------------------------------------------------


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def user_gate(
    runtime: AttachmentsRuntime, principal: Principal, ticket_id: uuid.UUID
) -> TicketGate:
    """A user's upload: the ticket exists for them (404 otherwise), their role writes, the
    ticket takes files."""

    async def gate(session: AsyncSession, lock: bool) -> KnownTicket:
        ticket = await visible_ticket(
            session,
            settings=runtime.settings,
            principal=principal,
            ticket_id=ticket_id,
            lock=lock,
        )
        check_takes_files(ticket, principal)
        return ticket

    return gate


async def admit(runtime: AttachmentsRuntime, gate: TicketGate) -> None:
    """Before a byte is read: the ticket exists for the uploader and takes files."""
    async with runtime.sessionmaker() as session, session.begin():
        await gate(session, False)


async def _replay(
    runtime: AttachmentsRuntime,
    *,
    principal: Principal,
    key: str | None,
    ticket_id: uuid.UUID,
    filename: str,
    checked: Checked,
) -> Attachment | None:
    """The attachment a previous request with this Idempotency-Key made (waiting for it
    while it is still being written), None if there is none (or no key); 422 if that
    request was another upload."""
    if not key:
        return None
    deadline = asyncio.get_running_loop().time() + IDEMPOTENT_WAIT_SECONDS
    while True:
        async with runtime.sessionmaker() as session:
            first = await service.find_by_key(
                session,
                uploader=principal.user_id,
                key=key,
                since=service.idempotency_cutoff(runtime.settings),
            )
        if first is None:
            return None
        if (first.ticket_id, first.sha256, first.filename) != (
            ticket_id,
            checked.sha256,
            filename,
        ):
            raise key_reused()
        if first.state != "uploading":
            return first
        if asyncio.get_running_loop().time() > deadline:
            raise Unavailable("upload_in_progress", "The same upload is still in progress")
        await asyncio.sleep(0.2)


async def reserve(
    runtime: AttachmentsRuntime,
    *,
    gate: TicketGate,
    uploaded_by: service.UploadedBy,
    kind: AttachmentKind,
    filename: str,
    checked: Checked,
    key: str | None,
    source_key: str | None = None,
) -> Attachment:
    """The file's row reserved (``uploading``) under the ticket row's lock, against the
    ticket's limits; an IntegrityError when the Idempotency-Key or source key is taken."""
    async with runtime.sessionmaker() as session, session.begin():
        ticket = await gate(session, True)
        if key is not None:
            await service.forget_old_key(
                session, uploader=uploaded_by.user_id, key=key, settings=runtime.settings
            )
        return await service.reserve(
            session,
            ticket=ticket,
            uploaded_by=uploaded_by,
            kind=kind,
            filename=filename,
            media_type=checked.file_type.media_type,
            type_name=checked.file_type.name,
            size=checked.size,
            sha256=checked.sha256,
            metadata_stripped=checked.metadata_stripped,
            has_thumbnail=checked.thumbnail is not None,
            idempotency_key=key,
            settings=runtime.settings,
            source_key=source_key,
        )


async def write_objects(
    runtime: AttachmentsRuntime, attachment: Attachment, upload: Upload, checked: Checked
) -> None:
    store = runtime.store
    try:
        await store.put_file(
            attachment.object_key, upload.spool.path, content_type=attachment.media_type
        )
        if checked.thumbnail is not None and attachment.thumbnail_key is not None:
            await store.put_bytes(
                attachment.thumbnail_key, checked.thumbnail, content_type="image/webp"
            )
    except StorageUnavailable as exc:
        log.warning("storing %s failed: %s", attachment.id, exc)
        await _undo(runtime, attachment)
        raise storage_unavailable() from exc


async def _undo(runtime: AttachmentsRuntime, attachment: Attachment) -> None:
    """Remove what may be half-written, then release the reservation. If the store cannot
    confirm the removal (it is down), the row stays ``uploading``: the sweep removes the
    object and the row later, so an object is never left without a row pointing at it."""
    try:
        for key in (attachment.object_key, attachment.thumbnail_key):
            if key is not None:
                await runtime.store.remove(key)
    except StorageUnavailable:
        return
    try:
        async with runtime.sessionmaker() as session, session.begin():
            await service.release(session, attachment_id=attachment.id)
    except Exception as exc:  # the sweep releases it later
        log.warning("releasing %s failed: %r", attachment.id, exc)


async def complete(
    runtime: AttachmentsRuntime, attachment_id: uuid.UUID, actor: Actor
) -> Attachment:
    async with runtime.sessionmaker() as session, session.begin():
        attachment = await session.get(Attachment, attachment_id, with_for_update=True)
        if attachment is None:
            raise storage_unavailable()  # swept meanwhile (an upload slower than the sweep)
        ticket = await session.get(KnownTicket, attachment.ticket_id)
        assert ticket is not None
        await service.complete(session, attachment=attachment, ticket=ticket, actor=actor)
        if attachment.scan_status == "pending":
            runtime.scan_requested.after_commit(session)
        return attachment


@router.post(
    "/tickets/{ticket_id}/attachments",
    status_code=201,
    response_model=AttachmentOut,
    openapi_extra=UPLOAD_BODY,
    responses={
        413: {"description": "The file (or the ticket's files together) is over the limit"},
        415: {"description": "The file's type, by its content, is not accepted"},
        409: {"description": "The ticket is closed, or has the most files it takes"},
        403: {"description": "The caller's role may not upload this kind of file"},
        503: {"description": "Storage unavailable; retry with the same Idempotency-Key"},
        **IDEMPOTENCY_RESPONSES,
    },
)
async def upload_file(
    ticket_id: uuid.UUID,
    request: Request,
    response: Response,
    principal: CurrentUser,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey,
    filename: Annotated[str | None, Query(max_length=1000)] = None,
    kind: Annotated[
        AttachmentKind | None, Query(description="the kind, also as the form part `kind`")
    ] = None,
) -> AttachmentOut:
    """Attach a file to a ticket, streamed: checked by content against the allow-list
    (415), limited in size (413), location data stripped from photos, scanned for malware
    (``scan_status`` ``pending`` until then). ``Idempotency-Key``: a retry with the same
    key and file returns the first attachment, never a second one."""
    settings = runtime.settings
    declared = _declared_length(request)
    if declared is not None and declared > settings.max_file_bytes + FRAMING_ALLOWANCE:
        raise file_too_large(settings.max_file_bytes)
    gate = user_gate(runtime, principal, ticket_id)
    await admit(runtime, gate)
    upload = await receive_upload(
        request, limit=settings.max_file_bytes, spool_dir=settings.spool_dir, filename=filename
    )
    try:
        chosen = service.choose_kind(principal, kind or upload.fields.get("kind"))
        name = sanitise_filename(upload.filename)
        checked = await check_upload(
            upload.spool.path,
            filename=name,
            size=upload.spool.size,
            sha256=upload.spool.sha256,
            settings=settings,
            executor=runtime.checks,
        )
        replay = partial(
            _replay,
            runtime,
            principal=principal,
            key=idempotency_key,
            ticket_id=ticket_id,
            filename=name,
            checked=checked,
        )
        first = await replay()
        if first is None:
            try:
                attachment = await reserve(
                    runtime,
                    gate=gate,
                    uploaded_by=service.UploadedBy.of(principal),
                    kind=chosen,
                    filename=name,
                    checked=checked,
                    key=idempotency_key or None,
                )
            except IntegrityError:
                # Another request with this Idempotency-Key reserved first: its result.
                first = await replay()
                if first is None:
                    raise
        if first is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return present(first, principal, _prefix(request))
        await write_objects(runtime, attachment, upload, checked)
        stored = await complete(runtime, attachment.id, service.actor_of(principal))
    finally:
        upload.spool.discard()
    service.UPLOADS.labels(stored.type_name).inc()
    return present(stored, principal, _prefix(request))


# -- reading ---------------------------------------------------------------------------------


@router.get("/tickets/{ticket_id}/attachments", response_model=Page[AttachmentOut])
async def list_files(
    ticket_id: uuid.UUID,
    request: Request,
    principal: CurrentUser,
    runtime: RuntimeDep,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> Page[AttachmentOut]:
    """The ticket's files, oldest first (quarantined ones too, marked and not
    downloadable)."""
    async with runtime.sessionmaker() as session:
        await visible_ticket(
            session, settings=runtime.settings, principal=principal, ticket_id=ticket_id
        )
        statement = (
            sa.select(Attachment)
            .where(Attachment.ticket_id == ticket_id, Attachment.state == "stored")
            .order_by(Attachment.uploaded_at, Attachment.id)
            .limit(limit + 1)
        )
        if cursor:
            position = decode_cursor(cursor, listing=LISTING, parse=[cursor_datetime, cursor_uuid])
            statement = statement.where(
                after([Attachment.uploaded_at, Attachment.id], position, descending=False)
            )
        rows = (await session.scalars(statement)).all()
        await session.commit()  # the snapshot fetched for a new ticket, if any
    page, next_cursor = page_of(
        rows,
        limit=limit,
        cursor_after=lambda row: encode_cursor(LISTING, row.uploaded_at, row.id),
    )
    prefix = _prefix(request)
    return Page[AttachmentOut](
        items=[present(row, principal, prefix) for row in page], next_cursor=next_cursor
    )


@router.get("/attachments/{attachment_id}", response_model=AttachmentOut)
async def get_file(
    attachment_id: uuid.UUID, request: Request, principal: CurrentUser, runtime: RuntimeDep
) -> AttachmentOut:
    async with runtime.sessionmaker() as session:
        attachment, _ = await service.visible_attachment(
            session, attachment_id=attachment_id, principal=principal
        )
    return present(attachment, principal, _prefix(request))


def _download_headers(attachment: Attachment, *, inline: bool) -> dict[str, str]:
    headers = {
        "Content-Disposition": content_disposition(
            attachment.filename, "inline" if inline else "attachment"
        ),
        # The type is the one sniffed from the content at upload, never the client's:
        # the browser must not guess another.
        "X-Content-Type-Options": "nosniff",
        "Accept-Ranges": "bytes",
        "ETag": f'"{attachment.sha256}"',
        "Cache-Control": "private, no-cache",
        "X-Scan-Status": attachment.scan_status,
    }
    if not (inline and attachment.media_type == "application/pdf"):
        # Nothing in a served file may run script or load anything (a PDF inline needs the
        # browser's viewer, which a sandbox would block).
        headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return headers


# A file's bytes, in the media type it was checked to be.
BINARY = {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}


@router.get(
    "/attachments/{attachment_id}/content",
    response_class=Response,
    responses={
        200: {"description": "The file", **BINARY},
        206: {"description": "The requested byte range", **BINARY},
        304: {"description": "Unchanged since the ETag given in If-None-Match"},
        409: {"description": "Quarantined, or not scanned yet (requesters)"},
        416: {"description": "The range is outside the file"},
    },
)
async def download_file(
    attachment_id: uuid.UUID,
    principal: CurrentUser,
    runtime: RuntimeDep,
    download: Annotated[bool, Query(description="always save, never show inline")] = False,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The file's bytes, streamed from storage: inline for raster images and PDF (unless
    ``download``), else as an attachment; ``Range`` for a part."""
    async with runtime.sessionmaker() as session:
        attachment, _ = await service.visible_attachment(
            session, attachment_id=attachment_id, principal=principal
        )
    service.check_download(attachment, principal)
    file_type = CATALOGUE.get(attachment.type_name)
    headers = _download_headers(
        attachment, inline=bool(file_type and file_type.inline) and not download
    )
    if if_none_match and if_none_match.strip() == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    byte_range = requested_range(range_header, attachment.size)
    first, last = byte_range or (0, attachment.size - 1)
    length = last - first + 1
    try:
        body = await runtime.store.open(attachment.object_key, offset=first, length=length)
    except (StorageUnavailable, ObjectMissing) as exc:
        log.warning("reading %s failed: %r", attachment.id, exc)
        raise storage_unavailable() from exc
    headers["Content-Length"] = str(length)
    status = 200
    if byte_range is not None:
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{attachment.size}"
    service.DOWNLOADS.inc()
    return StreamingResponse(
        runtime.store.chunks(body),
        status_code=status,
        headers=headers,
        media_type=attachment.media_type,
    )


@router.get(
    "/attachments/{attachment_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/webp": {}}}, 404: {}, 409: {}},
)
async def thumbnail(
    attachment_id: uuid.UUID, principal: CurrentUser, runtime: RuntimeDep
) -> Response:
    """A small WebP of an image (the web client's list and previews)."""
    async with runtime.sessionmaker() as session:
        attachment, _ = await service.visible_attachment(
            session, attachment_id=attachment_id, principal=principal
        )
    service.check_download(attachment, principal)
    if attachment.thumbnail_key is None:
        raise NotFound("no_thumbnail", "This file has no thumbnail")
    try:
        data = await runtime.store.read_all(attachment.thumbnail_key)
    except (StorageUnavailable, ObjectMissing) as exc:
        raise storage_unavailable() from exc
    return Response(
        data,
        media_type="image/webp",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.delete("/attachments/{attachment_id}", responses=errors(403), status_code=204)
async def delete_file(
    attachment_id: uuid.UUID, principal: CurrentUser, runtime: RuntimeDep
) -> Response:
    """Delete a file (per the deletion policy): gone for users at once, on the ticket's
    timeline; its object is removed after the retention period."""
    async with runtime.sessionmaker() as session, session.begin():
        attachment, ticket = await service.visible_attachment(
            session, attachment_id=attachment_id, principal=principal
        )
        service.check_delete(attachment, ticket, principal, runtime.settings)
        await session.refresh(attachment, with_for_update=True)
        if attachment.state != "stored":
            raise NotFound("attachment_not_found", "Attachment not found")
        await service.remove(session, attachment=attachment, ticket=ticket, principal=principal)
    return Response(status_code=204)
