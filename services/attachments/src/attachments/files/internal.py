"""The service-to-service upload (``/internal/...``, the shared ``X-Internal-Token``): the
intake channels (the integrations service's mail and chat) store a message's files here.

The same path as a user's upload (files/views.py): the ticket checked before a byte is
read, the body spooled and checked by content (415), the limits (413, 409), the scan, the
reservation, the object, ``attachment.added``. What differs: the uploader is named in the
query (a user of the directory, checked as that user; or nobody known, the intake system
named ``uploaded_by_name``), the kind is ``supporting``, and the upload is idempotent by
``source_key`` forever (a repeat returns the first file, 200), not by an Idempotency-Key
for 24 hours.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.content import sanitise_filename
from attachments.files import service
from attachments.files.checks import check_upload
from attachments.files.intake import file_too_large, receive_upload
from attachments.files.models import Attachment
from attachments.files.schemas import AttachmentOut
from attachments.files.views import (
    FRAMING_ALLOWANCE,
    IDEMPOTENT_WAIT_SECONDS,
    UPLOAD_BODY,
    TicketGate,
    admit,
    complete,
    present,
    reserve,
    user_gate,
    write_objects,
)
from attachments.runtime import AttachmentsRuntime, RuntimeDep
from attachments.tickets.models import KnownTicket
from attachments.tickets.service import check_open, find_ticket, ticket_not_found
from helpdesk_common.auth import Principal, require_internal_caller
from helpdesk_common.directory.service import users_by_id
from helpdesk_common.errors import InvalidInput, PermissionDenied, Unavailable

router = APIRouter(
    prefix="/internal", tags=["internal"], dependencies=[Depends(require_internal_caller)]
)

UUID_OR_EMPTY = (
    r"^([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})?$"
)
RAW_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file's bytes (the Content-Type is not trusted: the type is judged"
        " by content).",
        "content": {"*/*": UPLOAD_BODY["requestBody"]["content"]["application/octet-stream"]},
    }
}


def source_key_reused() -> InvalidInput:
    return InvalidInput(
        "source_key_reused",
        "This source key already names a file of another ticket",
        field="source_key",
    )


def intake_gate(runtime: AttachmentsRuntime, ticket_id: uuid.UUID) -> TicketGate:
    """A file from someone who is not a user: the ticket exists and takes files (the
    tickets service already decided the sender may write to it)."""

    async def gate(session: AsyncSession, lock: bool) -> KnownTicket:
        ticket = await find_ticket(
            session, settings=runtime.settings, ticket_id=ticket_id, lock=lock
        )
        if ticket is None:
            raise ticket_not_found()
        check_open(ticket)
        return ticket

    return gate


async def uploader_principal(runtime: AttachmentsRuntime, user_id: uuid.UUID) -> Principal:
    """The user as the directory knows them, to be checked as their own upload would be."""
    async with runtime.sessionmaker() as session:
        user = (await users_by_id(session, user_ids=[user_id])).get(user_id)
    if user is None:
        # The integrations service knows the user from identity's events; this service
        # will too in a moment (its replica is behind): try again, nothing was stored.
        raise Unavailable(
            "uploader_unknown",
            "The uploader is not known here yet; try again shortly",
            field="uploaded_by",
        )
    if not user.is_active:
        raise PermissionDenied(
            "uploader_inactive", "The uploader's account is disabled", field="uploaded_by"
        )
    return Principal(
        user_id=user.id,
        role=user.role,  # type: ignore[arg-type]
        unit_id=user.unit_id,
        name=user.full_name,
        email=user.email,
        language=user.language,
    )


async def first_by_source(
    runtime: AttachmentsRuntime, *, source_key: str, ticket_id: uuid.UUID
) -> Attachment | None:
    """The file a previous upload with this source key stored (waiting while it is still
    being written), None if there is none; 422 if it went to another ticket."""
    deadline = asyncio.get_running_loop().time() + IDEMPOTENT_WAIT_SECONDS
    while True:
        async with runtime.sessionmaker() as session:
            first = await service.find_by_source(session, source_key=source_key)
        if first is None:
            return None
        if first.ticket_id != ticket_id:
            raise source_key_reused()
        if first.state != "uploading":
            return first
        if asyncio.get_running_loop().time() > deadline:
            raise Unavailable("upload_in_progress", "The same upload is still in progress")
        await asyncio.sleep(0.2)


@router.post(
    "/tickets/{ticket_id}/attachments",
    status_code=201,
    response_model=AttachmentOut,
    openapi_extra=RAW_BODY,
    responses={
        200: {"description": "This source key's file, stored by an earlier call"},
        413: {"description": "The file (or the ticket's files together) is over the limit"},
        415: {"description": "The file's type, by its content, is not accepted"},
        409: {"description": "The ticket is closed, or has the most files it takes"},
        403: {"description": "The uploader may not add files to this ticket"},
    },
)
async def intake_upload(
    ticket_id: uuid.UUID,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    filename: Annotated[str, Query(min_length=1, max_length=1000)],
    source_key: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            description="what the channel names this file by, e.g."
            " mail:<mailbox>:<Message-ID>:<part>; a repeat returns the first file",
        ),
    ],
    uploaded_by_name: Annotated[str, Query(min_length=1, max_length=200)],
    uploaded_by: Annotated[
        str,
        Query(
            pattern=UUID_OR_EMPTY,
            description="the uploading user's id; empty: a sender who is not a user (the"
            " intake system uploads, named uploaded_by_name)",
        ),
    ] = "",
) -> AttachmentOut:
    """Store a file that came by mail or chat on a ticket, as a supporting document: the
    raw body is the file, checked as a user's upload is (type by content, limits, scan).
    201 with the attachment; 200 with the first one for a source key seen before."""
    settings = runtime.settings
    first = await first_by_source(runtime, source_key=source_key, ticket_id=ticket_id)
    if first is not None:
        response.status_code = 200
        return present(first, None, "")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_file_bytes + FRAMING_ALLOWANCE:
        raise file_too_large(settings.max_file_bytes)
    if uploaded_by:
        principal = await uploader_principal(runtime, uuid.UUID(uploaded_by))
        who = service.UploadedBy.of(principal)  # named as the directory names them
        gate = user_gate(runtime, principal, ticket_id)
    else:
        who = service.UploadedBy.intake(uploaded_by_name)
        gate = intake_gate(runtime, ticket_id)
    await admit(runtime, gate)
    upload = await receive_upload(
        request,
        limit=settings.max_file_bytes,
        spool_dir=settings.spool_dir,
        filename=filename,
        raw=True,
    )
    try:
        name = sanitise_filename(upload.filename)
        checked = await check_upload(
            upload.spool.path,
            filename=name,
            size=upload.spool.size,
            sha256=upload.spool.sha256,
            settings=settings,
            executor=runtime.checks,
        )
        try:
            attachment = await reserve(
                runtime,
                gate=gate,
                uploaded_by=who,
                kind="supporting",
                filename=name,
                checked=checked,
                key=None,
                source_key=source_key,
            )
        except IntegrityError:
            # Another call with this source key reserved first: its file.
            first = await first_by_source(runtime, source_key=source_key, ticket_id=ticket_id)
            if first is None:
                raise
            response.status_code = 200
            return present(first, None, "")
        await write_objects(runtime, attachment, upload, checked)
        stored = await complete(runtime, attachment.id, who.actor)
    finally:
        upload.spool.discard()
    service.UPLOADS.labels(stored.type_name).inc()
    return present(stored, None, "")
