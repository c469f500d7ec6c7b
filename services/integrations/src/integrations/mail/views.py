"""Mailboxes: administrators set up the IMAP mailboxes whose mails become tickets, see each
one's status, check the connection and read the processing log."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from helpdesk_common.auth import Principal, require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.idempotency import IdempotentRoute, not_idempotent, secret_fields
from helpdesk_common.pagination import CursorQuery, Page
from helpdesk_common.responses import errors
from integrations.mail import service
from integrations.mail.poller import check_mailbox
from integrations.mail.schemas import (
    CheckOut,
    MailboxCreate,
    MailboxOut,
    MailboxUpdate,
    MessageOut,
    Outcome,
)
from integrations.runtime import RuntimeDep

router = APIRouter(prefix="/mailboxes", tags=["mailboxes"], route_class=IdempotentRoute)

AdminUser = Annotated[Principal, Depends(require_roles("admin"))]
Limit = Annotated[int, Query(ge=1, le=200)]
_NAME_TAKEN = "A mailbox with this name exists (`mailbox_name_taken`)"


@router.get("")
async def list_mailboxes(
    _: AdminUser, session: SessionDep, cursor: CursorQuery = None, limit: Limit = 50
) -> Page[MailboxOut]:
    """Ordered by name; the password is never returned (``has_password``)."""
    async with session.begin():
        rows, next_cursor = await service.list_mailboxes(session, cursor=cursor, limit=limit)
        items = [service.mailbox_out(m) for m in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409, s409=_NAME_TAKEN))
@secret_fields("password")
async def create_mailbox(
    body: MailboxCreate, _: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> MailboxOut:
    async with session.begin():
        mailbox = await service.create_mailbox(session, runtime=runtime, data=body)
        return service.mailbox_out(mailbox)


@router.get("/{mailbox_id}")
async def get_mailbox(mailbox_id: uuid.UUID, _: AdminUser, session: SessionDep) -> MailboxOut:
    async with session.begin():
        return service.mailbox_out(await service.get_mailbox(session, mailbox_id=mailbox_id))


@router.patch("/{mailbox_id}", responses=errors(409, s409=_NAME_TAKEN))
@secret_fields("password")
async def update_mailbox(
    mailbox_id: uuid.UUID,
    body: MailboxUpdate,
    _: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> MailboxOut:
    """Changes apply at the next poll of whichever replica, without a restart; the password
    is kept when left out."""
    async with session.begin():
        mailbox = await service.update_mailbox(
            session, runtime=runtime, mailbox_id=mailbox_id, data=body
        )
        return service.mailbox_out(mailbox)


@router.delete("/{mailbox_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_mailbox(mailbox_id: uuid.UUID, _: AdminUser, session: SessionDep) -> Response:
    """The mailbox and its processing log go; mails already made into tickets stay."""
    async with session.begin():
        await service.delete_mailbox(session, mailbox_id=mailbox_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{mailbox_id}/check")
@not_idempotent
async def check(mailbox_id: uuid.UUID, _: AdminUser, runtime: RuntimeDep) -> CheckOut:
    """Connect and sign in now; ``message_count`` is the folder's number of mails."""
    ok, error, count = await check_mailbox(runtime, mailbox_id)
    return CheckOut(ok=ok, error=error, message_count=count)


@router.get("/{mailbox_id}/messages")
async def list_messages(
    mailbox_id: uuid.UUID,
    _: AdminUser,
    session: SessionDep,
    outcome: Outcome | None = None,
    cursor: CursorQuery = None,
    limit: Limit = 50,
) -> Page[MessageOut]:
    """The processing log, newest first."""
    async with session.begin():
        items, next_cursor = await service.list_messages(
            session, mailbox_id=mailbox_id, outcome=outcome, cursor=cursor, limit=limit
        )
    return Page(items=items, next_cursor=next_cursor)
