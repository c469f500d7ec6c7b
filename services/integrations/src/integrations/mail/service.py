"""Mailboxes (administrators' settings and the poller's state) and the processed mails' log.

Keyword-only service functions on a session; the caller owns the transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.directory import DirectoryUnit, DirectoryUser
from helpdesk_common.errors import Conflict, InvalidInput, NotFound, StaleVersion
from helpdesk_common.pagination import (
    after,
    cursor_int,
    decode_cursor,
    encode_cursor,
    page_of,
)
from integrations.mail.imap import ImapAccount
from integrations.mail.models import Mailbox, MailMessage, MailRefusal
from integrations.mail.schemas import (
    MailboxCreate,
    MailboxOut,
    MailboxStatus,
    MailboxUpdate,
    MessageOut,
)
from integrations.runtime import IntegrationsRuntime

_NAME_TAKEN = "A mailbox with this name exists"


def now() -> datetime:
    return datetime.now(UTC)


def mailbox_out(mailbox: Mailbox) -> MailboxOut:
    if not mailbox.is_active:
        state = "inactive"
    elif mailbox.last_polled_at is None:
        state = "never_polled"
    elif mailbox.failing_since is not None:
        state = "failing"
    else:
        state = "ok"
    return MailboxOut(
        id=mailbox.id,
        name=mailbox.name,
        host=mailbox.host,
        port=mailbox.port,
        security=mailbox.security,  # type: ignore[arg-type]
        username=mailbox.username,
        has_password=mailbox.password_encrypted is not None,
        folder=mailbox.folder,
        default_unit_id=mailbox.default_unit_id,
        default_category_id=mailbox.default_category_id,
        unknown_senders=mailbox.unknown_senders,  # type: ignore[arg-type]
        is_active=mailbox.is_active,
        poll_interval_seconds=mailbox.poll_interval_seconds,
        status=MailboxStatus(
            state=state,  # type: ignore[arg-type]
            last_polled_at=mailbox.last_polled_at,
            last_success_at=mailbox.last_success_at,
            last_error=mailbox.last_error,
            failing_since=mailbox.failing_since,
            consecutive_failures=mailbox.consecutive_failures,
            next_attempt_at=mailbox.next_attempt_at if mailbox.is_active else None,
        ),
        version=mailbox.version,
        created_at=mailbox.created_at,
        updated_at=mailbox.updated_at,
    )


async def _check_unit(session: AsyncSession, unit_id: uuid.UUID) -> None:
    unit = await session.get(DirectoryUnit, unit_id)
    if unit is None or not unit.is_active:
        raise InvalidInput(
            "unknown_unit", "The unit does not exist or is inactive", field="default_unit_id"
        )


async def list_mailboxes(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[list[Mailbox], str | None]:
    query = sa.select(Mailbox).order_by(Mailbox.name, Mailbox.id)
    if cursor:
        name, mailbox_id = decode_cursor(
            cursor, listing="mailboxes", parse=[_text, lambda v: uuid.UUID(_text(v))]
        )
        query = query.where(after([Mailbox.name, Mailbox.id], [name, mailbox_id], descending=False))
    rows = list((await session.scalars(query.limit(limit + 1))).all())
    return page_of(
        rows, limit=limit, cursor_after=lambda m: encode_cursor("mailboxes", m.name, m.id)
    )


def _text(value: Any) -> str:
    from helpdesk_common.pagination import cursor_text

    return cursor_text(value)


async def get_mailbox(
    session: AsyncSession, *, mailbox_id: uuid.UUID, for_update: bool = False
) -> Mailbox:
    query = sa.select(Mailbox).where(Mailbox.id == mailbox_id)
    if for_update:
        query = query.with_for_update()
    mailbox = await session.scalar(query)
    if mailbox is None:
        raise NotFound("mailbox_not_found", "Mailbox not found")
    return mailbox


async def create_mailbox(
    session: AsyncSession, *, runtime: IntegrationsRuntime, data: MailboxCreate
) -> Mailbox:
    await _check_unit(session, data.default_unit_id)
    moment = now()
    mailbox = Mailbox(
        id=uuid.uuid4(),
        name=data.name.strip() or data.name,
        host=data.host,
        port=data.port,
        security=data.security,
        username=data.username,
        password_encrypted=runtime.cipher.encrypt(data.password),
        folder=data.folder,
        default_unit_id=data.default_unit_id,
        default_category_id=data.default_category_id,
        unknown_senders=data.unknown_senders,
        is_active=data.is_active,
        poll_interval_seconds=data.poll_interval_seconds,
        version=1,
        created_at=moment,
        updated_at=moment,
        consecutive_failures=0,
        next_attempt_at=moment,
    )
    session.add(mailbox)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("mailbox_name_taken", _NAME_TAKEN, field="name") from None
    return mailbox


async def update_mailbox(
    session: AsyncSession,
    *,
    runtime: IntegrationsRuntime,
    mailbox_id: uuid.UUID,
    data: MailboxUpdate,
) -> Mailbox:
    mailbox = await get_mailbox(session, mailbox_id=mailbox_id, for_update=True)
    if data.version is not None and data.version != mailbox.version:
        raise StaleVersion(
            "version_mismatch",
            f"The mailbox has changed since you read it (it is at version {mailbox.version},"
            f" you sent {data.version}); reload it and try again",
            extra={"current_version": mailbox.version},
        )
    given = data.model_fields_set - {"version"}
    for name in given:
        if getattr(data, name) is None:
            raise InvalidInput("validation_error", "must not be null", field=name)
    if data.default_unit_id is not None:
        await _check_unit(session, data.default_unit_id)
    for name in given - {"password"}:
        setattr(mailbox, name, getattr(data, name))
    if data.password is not None:
        mailbox.password_encrypted = runtime.cipher.encrypt(data.password)
    if given:
        mailbox.version += 1
        mailbox.updated_at = now()
        # A change applies at the next tick of whichever poller: connection settings are
        # read at every poll, and a failing mailbox is tried again at once.
        mailbox.next_attempt_at = now()
        if mailbox.is_active is False:
            mailbox.failing_since = None
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("mailbox_name_taken", _NAME_TAKEN, field="name") from None
    return mailbox


async def delete_mailbox(session: AsyncSession, *, mailbox_id: uuid.UUID) -> None:
    mailbox = await get_mailbox(session, mailbox_id=mailbox_id, for_update=True)
    await session.delete(mailbox)


def account_of(runtime: IntegrationsRuntime, mailbox: Mailbox) -> ImapAccount:
    password = (
        runtime.cipher.decrypt(mailbox.password_encrypted or "")
        if (mailbox.password_encrypted)
        else ""
    )
    return ImapAccount(
        host=mailbox.host,
        port=mailbox.port,
        security=mailbox.security,
        username=mailbox.username,
        password=password,
        folder=mailbox.folder,
        timeout=runtime.settings.mail_imap_timeout_seconds,
    )


async def list_messages(
    session: AsyncSession,
    *,
    mailbox_id: uuid.UUID,
    outcome: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[MessageOut], str | None]:
    await get_mailbox(session, mailbox_id=mailbox_id)
    query = sa.select(MailMessage).where(MailMessage.mailbox_id == mailbox_id)
    if outcome:
        query = query.where(MailMessage.outcome == outcome)
    if cursor:
        (last_id,) = decode_cursor(cursor, listing="mail_messages", parse=[cursor_int])
        query = query.where(MailMessage.id < last_id)
    rows = list(
        (await session.scalars(query.order_by(MailMessage.id.desc()).limit(limit + 1))).all()
    )
    page, next_cursor = page_of(
        rows, limit=limit, cursor_after=lambda m: encode_cursor("mail_messages", m.id)
    )
    return [MessageOut.model_validate(m) for m in page], next_cursor


# --- the poller's queries ------------------------------------------------------------------


async def claim_due(session: AsyncSession, *, owner: str, lease_seconds: float) -> list[uuid.UUID]:
    """Take the lease of every active mailbox whose next poll is due and that no poller
    holds (another replica's unexpired lease is left alone)."""
    moment = now()
    due = (
        sa.select(Mailbox.id)
        .where(
            Mailbox.is_active.is_(True),
            sa.or_(Mailbox.next_attempt_at.is_(None), Mailbox.next_attempt_at <= moment),
            sa.or_(Mailbox.lease_until.is_(None), Mailbox.lease_until < moment),
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(
        sa.update(Mailbox)
        .where(Mailbox.id.in_(due))
        .values(lease_owner=owner, lease_until=moment + timedelta(seconds=lease_seconds))
        .returning(Mailbox.id)
    )
    return list(result.scalars().all())


async def renew_lease(
    session: AsyncSession, *, mailbox_id: uuid.UUID, owner: str, lease_seconds: float
) -> bool:
    result = await session.execute(
        sa.update(Mailbox)
        .where(Mailbox.id == mailbox_id, Mailbox.lease_owner == owner)
        .values(lease_until=now() + timedelta(seconds=lease_seconds))
        .returning(Mailbox.id)
    )
    return result.scalar() is not None


async def finish_poll(
    session: AsyncSession,
    *,
    mailbox_id: uuid.UUID,
    owner: str,
    error: str | None,
    backoff_initial: float,
    backoff_max: float,
    again_now: bool = False,
    started_at: datetime | None = None,
) -> Mailbox | None:
    """Release the lease and record the poll: on success the next poll after the interval
    (at once when mail is left), on failure after an exponential back-off."""
    mailbox = await session.scalar(
        sa.select(Mailbox).where(Mailbox.id == mailbox_id).with_for_update()
    )
    if mailbox is None:
        return None
    moment = now()
    mailbox.last_polled_at = moment
    if mailbox.lease_owner == owner:
        mailbox.lease_owner = None
        mailbox.lease_until = None
    if error is None:
        mailbox.last_success_at = moment
        mailbox.failing_since = None
        mailbox.consecutive_failures = 0
        mailbox.last_error = None
        delay = 0.0 if again_now else float(mailbox.poll_interval_seconds)
        mailbox.next_attempt_at = moment + timedelta(seconds=delay)
    else:
        mailbox.consecutive_failures += 1
        mailbox.failing_since = mailbox.failing_since or moment
        mailbox.last_error = error[:1000]
        delay = min(backoff_max, backoff_initial * 2 ** (mailbox.consecutive_failures - 1))
        mailbox.next_attempt_at = moment + timedelta(seconds=delay)
    if started_at is not None and mailbox.updated_at > started_at:
        # Changed by an administrator during the poll: the new settings are tried at once.
        mailbox.next_attempt_at = moment
    return mailbox


async def known_key(session: AsyncSession, *, mailbox_id: uuid.UUID, key: str) -> bool:
    found = await session.scalar(
        sa.select(MailMessage.id).where(
            MailMessage.mailbox_id == mailbox_id, MailMessage.dedupe_key == key
        )
    )
    return found is not None


async def ticket_of_thread(
    session: AsyncSession, *, mailbox_id: uuid.UUID, message_ids: list[str]
) -> str | None:
    """The ticket of a mail this mailbox received that the new one answers."""
    if not message_ids:
        return None
    row = (
        await session.execute(
            sa.select(MailMessage.message_id, MailMessage.ticket_id).where(
                MailMessage.mailbox_id == mailbox_id,
                MailMessage.message_id.in_(message_ids),
                MailMessage.ticket_id.is_not(None),
            )
        )
    ).all()
    by_id = {message_id: ticket_id for message_id, ticket_id in row}
    for message_id in message_ids:  # nearest first
        if message_id in by_id:
            return str(by_id[message_id])
    return None


async def user_by_address(session: AsyncSession, *, address: str) -> DirectoryUser | None:
    """The active user with this address (case-insensitive); None when none or ambiguous."""
    users = (
        await session.scalars(
            sa.select(DirectoryUser)
            .where(sa.func.lower(DirectoryUser.email) == address.lower())
            .where(DirectoryUser.is_active.is_(True))
            .limit(2)
        )
    ).all()
    return users[0] if len(users) == 1 else None


async def recent_from(
    session: AsyncSession, *, mailbox_id: uuid.UUID, address: str, minutes: int
) -> int:
    """How many mails this sender sent to the mailbox lately (robots' mails left out)."""
    count = await session.scalar(
        sa.select(sa.func.count())
        .select_from(MailMessage)
        .where(
            MailMessage.mailbox_id == mailbox_id,
            MailMessage.from_address == address,
            MailMessage.outcome != "ignored",
            MailMessage.processed_at > now() - timedelta(minutes=minutes),
        )
    )
    return int(count or 0)


async def claim_refusal(
    session: AsyncSession, *, mailbox_id: uuid.UUID, address: str, quiet_days: int
) -> bool:
    """True when this address may be answered now (and it is recorded as answered): at most
    once per mailbox within the quiet period, also with several pollers."""
    moment = now()
    statement = (
        sa.dialects.postgresql.insert(MailRefusal)
        .values(mailbox_id=mailbox_id, address=address, answered_at=moment)
        .on_conflict_do_update(
            index_elements=[MailRefusal.mailbox_id, MailRefusal.address],
            set_={"answered_at": moment},
            where=MailRefusal.answered_at < moment - timedelta(days=quiet_days),
        )
        .returning(MailRefusal.address)
    )
    return (await session.execute(statement)).scalar() is not None


async def record_message(session: AsyncSession, *, values: dict[str, Any]) -> bool:
    """The processed mail's row; False when another poller recorded it first."""
    statement = (
        sa.dialects.postgresql.insert(MailMessage)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_mail_messages_mailbox_key")
        .returning(MailMessage.id)
    )
    return (await session.execute(statement)).scalar() is not None
