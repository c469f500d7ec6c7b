"""Chat channels: administration, and each inbound message made a ticket or a comment.

A message is handled in one transaction that holds the conversation's advisory lock: the
message row (unique by channel and provider id) is looked up first (a repeat delivery makes
nothing), then the tickets service's intake API is called with the source key
``chat:<channel id>:<provider message id>`` (kept by the tickets service forever, so a crash
after its commit and before ours makes nothing twice either), and the message and the
conversation's ticket are stored. The lock keeps two messages of one new conversation from
opening two tickets.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.directory import DirectoryUnit, DirectoryUser
from helpdesk_common.errors import InvalidInput, NotFound, StaleVersion
from helpdesk_common.pagination import (
    after,
    cursor_datetime,
    cursor_uuid,
    decode_cursor,
    encode_cursor,
    page_of,
)
from integrations.chat.models import ChatChannel, ChatConversation, ChatMessage
from integrations.chat.providers import Inbound
from integrations.chat.schemas import ChannelCreate, ChannelUpdate
from integrations.intake import tickets_api
from integrations.intake.tickets_api import IntakeRefused, Made, TicketClosed, TicketsUnavailable
from integrations.runtime import IntegrationsRuntime

log = logging.getLogger("integrations.chat")

CHANNELS_LISTING = "chat_channels"
MESSAGES_LISTING = "chat_messages"
PROVIDER_LABELS = {"whatsapp": "WhatsApp", "generic": "chat"}


# Administration


def not_found() -> NotFound:
    return NotFound("channel_not_found", "Chat channel not found")


async def list_channels(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[list[ChatChannel], str | None]:
    order = (ChatChannel.created_at, ChatChannel.id)
    query = sa.select(ChatChannel).order_by(*(c.desc() for c in order)).limit(limit + 1)
    if cursor is not None:
        values = decode_cursor(
            cursor, listing=CHANNELS_LISTING, parse=[cursor_datetime, cursor_uuid]
        )
        query = query.where(after(order, values, descending=True))
    rows = list(await session.scalars(query))
    return page_of(
        rows,
        limit=limit,
        cursor_after=lambda c: encode_cursor(CHANNELS_LISTING, c.created_at, c.id),
    )


async def last_message_times(
    session: AsyncSession, *, channel_ids: list[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When each channel last received a message (the messages' index answers it)."""
    if not channel_ids:
        return {}
    rows = await session.execute(
        sa.select(ChatMessage.channel_id, sa.func.max(ChatMessage.received_at))
        .where(ChatMessage.channel_id.in_(channel_ids))
        .group_by(ChatMessage.channel_id)
    )
    return {channel_id: at for channel_id, at in rows}


async def get_channel(
    session: AsyncSession, *, channel_id: uuid.UUID, for_update: bool = False
) -> ChatChannel:
    query = sa.select(ChatChannel).where(ChatChannel.id == channel_id)
    if for_update:
        query = query.with_for_update()
    channel = await session.scalar(query)
    if channel is None:
        raise not_found()
    return channel


def _check_whatsapp(provider: str, verify_token: str | None) -> None:
    if provider == "whatsapp" and not verify_token:
        raise InvalidInput(
            "verify_token_required",
            "A WhatsApp channel needs the verify token of its subscription handshake",
            field="verify_token",
        )


async def _check_unit(session: AsyncSession, unit_id: uuid.UUID) -> None:
    """The default unit must be an active unit of the directory (the category is checked by
    the tickets service when a message comes: this service keeps no copy of them)."""
    unit = await session.get(DirectoryUnit, unit_id)
    if unit is None or not unit.is_active:
        raise InvalidInput(
            "unknown_unit", "The unit must exist and be active", field="default_unit_id"
        )


async def create_channel(
    session: AsyncSession, *, runtime: IntegrationsRuntime, data: ChannelCreate
) -> ChatChannel:
    _check_whatsapp(data.provider, data.verify_token)
    await _check_unit(session, data.default_unit_id)
    channel = ChatChannel(
        id=uuid.uuid4(),
        name=data.name.strip() or data.name,
        provider=data.provider,
        secret_encrypted=runtime.cipher.encrypt(data.secret),
        verify_token_encrypted=(
            runtime.cipher.encrypt(data.verify_token) if data.verify_token else None
        ),
        default_unit_id=data.default_unit_id,
        default_category_id=data.default_category_id,
        is_active=data.is_active,
    )
    session.add(channel)
    await session.flush()
    await session.refresh(channel)
    return channel


async def update_channel(
    session: AsyncSession,
    *,
    runtime: IntegrationsRuntime,
    channel_id: uuid.UUID,
    data: ChannelUpdate,
) -> ChatChannel:
    channel = await get_channel(session, channel_id=channel_id, for_update=True)
    if data.version is not None and data.version != channel.version:
        raise StaleVersion(
            "version_mismatch",
            f"The channel has changed since you read it (it is at version {channel.version},"
            f" you sent {data.version}); reload it and try again",
            extra={"current_version": channel.version},
        )
    given = data.model_fields_set
    for name in ("name", "secret", "default_unit_id", "default_category_id", "is_active"):
        if name in given and getattr(data, name) is None:
            raise InvalidInput("validation_error", "must not be null", field=name)
    if data.name is not None:
        channel.name = data.name
    if data.secret is not None:
        channel.secret_encrypted = runtime.cipher.encrypt(data.secret)
    if "verify_token" in given:
        channel.verify_token_encrypted = (
            runtime.cipher.encrypt(data.verify_token) if data.verify_token else None
        )
    if data.default_unit_id is not None and data.default_unit_id != channel.default_unit_id:
        await _check_unit(session, data.default_unit_id)
        channel.default_unit_id = data.default_unit_id
    if data.default_category_id is not None:
        channel.default_category_id = data.default_category_id
    if data.is_active is not None:
        channel.is_active = data.is_active
    _check_whatsapp(channel.provider, "x" if channel.verify_token_encrypted else None)
    channel.version += 1
    channel.updated_at = sa.func.now()
    await session.flush()
    await session.refresh(channel)
    return channel


async def delete_channel(session: AsyncSession, *, channel_id: uuid.UUID) -> None:
    deleted = await session.execute(
        sa.delete(ChatChannel).where(ChatChannel.id == channel_id).returning(ChatChannel.id)
    )
    if deleted.first() is None:
        raise not_found()


async def list_messages(
    session: AsyncSession,
    *,
    channel_id: uuid.UUID,
    outcome: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ChatMessage], str | None]:
    await get_channel(session, channel_id=channel_id)
    order = (ChatMessage.received_at, ChatMessage.id)
    query = (
        sa.select(ChatMessage)
        .where(ChatMessage.channel_id == channel_id)
        .order_by(*(c.desc() for c in order))
        .limit(limit + 1)
    )
    if outcome is not None:
        query = query.where(ChatMessage.outcome == outcome)
    if cursor is not None:
        values = decode_cursor(
            cursor, listing=MESSAGES_LISTING, parse=[cursor_datetime, cursor_uuid]
        )
        query = query.where(after(order, values, descending=True))
    rows = list(await session.scalars(query))
    return page_of(
        rows,
        limit=limit,
        cursor_after=lambda m: encode_cursor(MESSAGES_LISTING, m.received_at, m.id),
    )


# Inbound messages


@dataclass(frozen=True)
class HookChannel:
    """What a hook needs of its channel, read once (the rows expire between transactions)."""

    id: uuid.UUID
    provider: str
    secret_encrypted: str
    verify_token_encrypted: str | None
    default_unit_id: uuid.UUID
    default_category_id: uuid.UUID
    is_active: bool

    @classmethod
    def of(cls, channel: ChatChannel) -> HookChannel:
        return cls(
            id=channel.id,
            provider=channel.provider,
            secret_encrypted=channel.secret_encrypted,
            verify_token_encrypted=channel.verify_token_encrypted,
            default_unit_id=channel.default_unit_id,
            default_category_id=channel.default_category_id,
            is_active=channel.is_active,
        )


@dataclass(frozen=True)
class Received:
    message_id: str
    outcome: str
    duplicate: bool
    ticket_id: uuid.UUID | None
    ticket_number: str | None


def source_key(channel_id: uuid.UUID, provider_message_id: str) -> str:
    return f"chat:{channel_id}:{provider_message_id}"


async def _known_user(session: AsyncSession, email: str | None) -> DirectoryUser | None:
    if not email:
        return None
    return await session.scalar(
        sa.select(DirectoryUser)
        .where(sa.func.lower(DirectoryUser.email) == email.lower(), DirectoryUser.is_active)
        .order_by(DirectoryUser.id)
        .limit(1)
    )


def _sender_label(channel: HookChannel, message: Inbound) -> str:
    provider = PROVIDER_LABELS.get(channel.provider, channel.provider)
    return f"{message.sender_name} ({provider} {message.sender_contact})"[:300]


async def _new_ticket(
    runtime: IntegrationsRuntime,
    *,
    channel: HookChannel,
    message: Inbound,
    requester: DirectoryUser | None,
    key: str,
    follows: str | None = None,
) -> Made:
    text = message.text
    if follows:
        text = (
            f"Lanjutan dari tiket {follows} yang sudah ditutup."
            f" / Follow-up of the closed ticket {follows}.\n\n{text}"
        )
    first_line = next((line for line in message.text.splitlines() if line.strip()), "")
    provider = PROVIDER_LABELS.get(channel.provider, channel.provider)
    return await tickets_api.create_ticket(
        runtime,
        source_key=key,
        channel="webhook",
        requester_id=requester.id if requester else None,
        unit_id=channel.default_unit_id,
        category_id=channel.default_category_id,
        title=tickets_api.shape_title(
            first_line, fallback=f"Pesan {provider} dari {message.sender_name}"
        ),
        description=tickets_api.shape_description(text),
        sender_name=_sender_label(channel, message),
        contact_name=None if requester else message.sender_name[:200],
        contact_email=None if requester else message.contact_email,
        contact_phone=None if requester else message.contact_phone,
    )


def _about_the_message(refused: IntakeRefused) -> bool:
    """Whether the tickets service refused the message itself (a unit or category it does not
    know, a sender who is not the ticket's contact): final, logged as ``refused``."""
    return refused.status == 422 or (refused.status == 403 and refused.code == "not_a_participant")


async def receive_message(
    session: AsyncSession,
    *,
    runtime: IntegrationsRuntime,
    channel: HookChannel,
    message: Inbound,
) -> Received:
    """Make ``message`` a ticket or a comment, once. Raises ``TicketsUnavailable`` (the
    caller answers 503 and the provider sends it again); the transaction is the caller's."""
    # One conversation at a time: its first two messages must not open two tickets.
    await session.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(
                sa.func.hashtextextended(f"chat:{channel.id}:{message.conversation_id}", 0)
            )
        )
    )
    seen = await session.scalar(
        sa.select(ChatMessage).where(
            ChatMessage.channel_id == channel.id,
            ChatMessage.provider_message_id == message.provider_message_id,
        )
    )
    if seen is not None:
        return Received(
            message_id=seen.provider_message_id,
            outcome=seen.outcome,
            duplicate=True,
            ticket_id=seen.ticket_id,
            ticket_number=seen.ticket_number,
        )
    conversation = await session.get(
        ChatConversation, (channel.id, message.conversation_id), with_for_update=True
    )
    requester = await _known_user(session, message.contact_email)
    key = source_key(channel.id, message.provider_message_id)
    outcome, reason, made = "ticket", None, None
    try:
        if conversation is None:
            made = await _new_ticket(
                runtime, channel=channel, message=message, requester=requester, key=key
            )
        else:
            try:
                made = await tickets_api.add_comment(
                    runtime,
                    source_key=key,
                    ticket_ref=str(conversation.ticket_id),
                    author_id=requester.id if requester else None,
                    author_name=message.sender_name[:200],
                    contact=message.contact_email or message.contact_phone,
                    body=tickets_api.shape_description(message.text),
                )
                outcome = "comment" if made.comment_id is not None else "ticket"
            except TicketClosed as closed:
                made = await _new_ticket(
                    runtime,
                    channel=channel,
                    message=message,
                    requester=requester,
                    key=key,
                    follows=closed.number or conversation.ticket_number,
                )
            except IntakeRefused as refused:
                if refused.code != "ticket_not_found":
                    raise
                made = await _new_ticket(
                    runtime, channel=channel, message=message, requester=requester, key=key
                )
    except IntakeRefused as refused:
        if not _about_the_message(refused):
            # Our own set-up (the internal token, a tickets service without the intake API):
            # not the message's fault, so not recorded as refused; the provider retries.
            raise TicketsUnavailable(f"tickets service refused the call: {refused}") from refused
        outcome, reason = "refused", f"{refused.code}: {refused.message}"[:1000]
        log.warning(
            "chat message refused by the tickets service",
            extra={"channel_id": str(channel.id), "code": refused.code},
        )
    session.add(
        ChatMessage(
            id=uuid.uuid4(),
            channel_id=channel.id,
            provider_message_id=message.provider_message_id,
            conversation_id=message.conversation_id,
            sender_name=message.sender_name,
            sender_contact=message.sender_contact,
            sent_at=message.sent_at,
            outcome=outcome,
            reason=reason,
            ticket_id=made.ticket_id if made else None,
            ticket_number=made.number if made else None,
            comment_id=made.comment_id if made else None,
        )
    )
    if made is not None and outcome == "ticket":
        await session.execute(
            insert(ChatConversation)
            .values(
                channel_id=channel.id,
                conversation_id=message.conversation_id,
                ticket_id=made.ticket_id,
                ticket_number=made.number,
            )
            .on_conflict_do_update(
                index_elements=["channel_id", "conversation_id"],
                set_={
                    "ticket_id": made.ticket_id,
                    "ticket_number": made.number,
                    "updated_at": sa.func.now(),
                },
            )
        )
    await session.flush()
    return Received(
        message_id=message.provider_message_id,
        outcome=outcome,
        duplicate=False,
        ticket_id=made.ticket_id if made else None,
        ticket_number=made.number if made else None,
    )
