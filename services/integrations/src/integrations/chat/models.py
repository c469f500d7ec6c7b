"""Chat channels (one provider webhook each), the messages they received and the
conversations' tickets."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integrations.db import Base


class ChatChannel(Base):
    __tablename__ = "chat_channels"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.Text)
    # "whatsapp" (Meta's WhatsApp Cloud API) or "generic" (our signed JSON format).
    provider: Mapped[str] = mapped_column(sa.Text)
    # Encrypted with the runtime's cipher (never returned): the HMAC key (generic) or the
    # Meta app secret (whatsapp); the subscription handshake's verify token (whatsapp).
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    verify_token_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    default_unit_id: Mapped[uuid.UUID]
    default_category_id: Mapped[uuid.UUID]
    is_active: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    version: Mapped[int] = mapped_column(server_default=sa.text("1"))

    __table_args__ = (
        sa.CheckConstraint("provider IN ('whatsapp', 'generic')", name="provider_known"),
        sa.Index("ix_chat_channels_created", "created_at", "id"),
    )


class ChatMessage(Base):
    """One provider message, at most once per channel (the provider's id): a repeat
    delivery finds it and makes nothing again."""

    __tablename__ = "chat_messages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    channel_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("chat_channels.id", ondelete="CASCADE")
    )
    provider_message_id: Mapped[str] = mapped_column(sa.Text)
    conversation_id: Mapped[str] = mapped_column(sa.Text)
    sender_name: Mapped[str] = mapped_column(sa.Text)
    # The phone number (whatsapp) or e-mail address / phone / id (generic) of the sender.
    sender_contact: Mapped[str] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    # ticket (a new ticket), comment (on the conversation's ticket), refused (the tickets
    # service said no: reason).
    outcome: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    ticket_id: Mapped[uuid.UUID | None]
    ticket_number: Mapped[str | None] = mapped_column(sa.Text)
    comment_id: Mapped[uuid.UUID | None]

    __table_args__ = (
        sa.UniqueConstraint(
            "channel_id", "provider_message_id", name="uq_chat_messages_channel_provider_id"
        ),
        sa.CheckConstraint("outcome IN ('ticket', 'comment', 'refused')", name="outcome_known"),
        sa.Index("ix_chat_messages_channel_received", "channel_id", "received_at", "id"),
    )


class ChatConversation(Base):
    """A conversation's current ticket: its next messages are comments there (a new ticket
    once it is closed)."""

    __tablename__ = "chat_conversations"

    channel_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("chat_channels.id", ondelete="CASCADE"), primary_key=True
    )
    conversation_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    ticket_id: Mapped[uuid.UUID]
    ticket_number: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
