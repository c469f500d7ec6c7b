"""The mail domain's tables: the mailboxes an administrator set up, each processed mail
(the dedupe key and the processing log), and the unknown senders already answered."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integrations.db import Base


class Mailbox(Base):
    __tablename__ = "mail_mailboxes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.Text, unique=True)
    host: Mapped[str] = mapped_column(sa.Text)
    port: Mapped[int]
    security: Mapped[str] = mapped_column(sa.Text)  # ssl | starttls | none
    username: Mapped[str] = mapped_column(sa.Text)
    # SecretCipher token of the IMAP password; never returned.
    password_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    folder: Mapped[str] = mapped_column(sa.Text)
    default_unit_id: Mapped[uuid.UUID]
    default_category_id: Mapped[uuid.UUID]
    unknown_senders: Mapped[str] = mapped_column(sa.Text)  # create_ticket | reply_once
    is_active: Mapped[bool]
    poll_interval_seconds: Mapped[int]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    # The poller's state.
    last_polled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    failing_since: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # One poller at a time across replicas: whoever holds an unexpired lease polls.
    lease_owner: Mapped[str | None] = mapped_column(sa.Text)
    lease_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class MailMessage(Base):
    """One processed mail of a mailbox: its dedupe key (Message-ID, or a hash of the bytes
    when it has none) and what became of it."""

    __tablename__ = "mail_messages"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    mailbox_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("mail_mailboxes.id", ondelete="CASCADE")
    )
    dedupe_key: Mapped[str] = mapped_column(sa.Text)
    message_id: Mapped[str | None] = mapped_column(sa.Text)
    from_address: Mapped[str | None] = mapped_column(sa.Text)
    from_name: Mapped[str | None] = mapped_column(sa.Text)
    subject: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    processed_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    outcome: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    ticket_id: Mapped[uuid.UUID | None]
    ticket_number: Mapped[str | None] = mapped_column(sa.Text)
    attachments_stored: Mapped[int] = mapped_column(default=0, server_default="0")
    attachments_refused: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (
        sa.UniqueConstraint("mailbox_id", "dedupe_key", name="uq_mail_messages_mailbox_key"),
        sa.Index("ix_mail_messages_mailbox_id", "mailbox_id", "id"),
        sa.Index("ix_mail_messages_message_id", "mailbox_id", "message_id"),
        sa.Index("ix_mail_messages_sender", "mailbox_id", "from_address", "processed_at"),
    )


class MailRefusal(Base):
    """An unknown sender answered once (``reply_once``): not again within the quiet period."""

    __tablename__ = "mail_refusals"

    mailbox_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("mail_mailboxes.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    answered_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
