"""One row per mail to send: rendered at enqueue time, so a retry sends the very same mail."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from notifications.db import Base

DeliveryStatus = Literal["pending", "sending", "sent", "failed"]


class EmailDelivery(Base):
    __tablename__ = "email_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Orders listings and serves as their cursor (ids are random).
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    # The event that caused the mail (NULL for an administrator's test mail).
    event_id: Mapped[uuid.UUID | None]
    event_type: Mapped[str] = mapped_column(sa.Text)
    ticket_id: Mapped[uuid.UUID | None]
    ticket_number: Mapped[str | None] = mapped_column(sa.Text)
    # Lower-cased address: the same person never gets one event's mail twice.
    recipient: Mapped[str] = mapped_column(sa.Text)
    recipient_name: Mapped[str | None] = mapped_column(sa.Text)
    user_id: Mapped[uuid.UUID | None]
    language: Mapped[str] = mapped_column(sa.Text)
    subject: Mapped[str] = mapped_column(sa.Text)
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    # A document sent along (a scheduled report's PDF), stored once for all its recipients.
    attachment_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("email_attachments.id"))
    # The Message-ID (``<...>``) of a mail this one answers (In-Reply-To and References):
    # the reply to a sender whose mail opened no ticket threads under their mail.
    in_reply_to: Mapped[str | None] = mapped_column(sa.Text)

    status: Mapped[str] = mapped_column(sa.Text, default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # When the delivery is due. Claiming a delivery pushes this to the end of the claim's lease,
    # so a delivery whose sender vanished (crash) falls due again by itself.
    next_attempt_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    # The sender (an id per sender instance) that holds the claim while status is 'sending':
    # it alone may take the row back early or hand it back (see notifications.email.sender).
    claimed_by: Mapped[uuid.UUID | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("event_id", "recipient", name="uq_email_deliveries_event_recipient"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')", name="status_known"
        ),
        # The sender's claim query scans only unfinished rows, in due order.
        sa.Index(
            "ix_email_deliveries_due",
            "next_attempt_at",
            postgresql_where=sa.text("status IN ('pending', 'sending')"),
        ),
        sa.Index("ix_email_deliveries_status_seq", "status", "seq"),
        # A sender finds its own claims (a handful of rows per sender) without a scan.
        sa.Index(
            "ix_email_deliveries_claimed_by",
            "claimed_by",
            postgresql_where=sa.text("status = 'sending'"),
        ),
        # Purging finds the attachments no delivery refers to any more.
        sa.Index(
            "ix_email_deliveries_attachment_id",
            "attachment_id",
            postgresql_where=sa.text("attachment_id IS NOT NULL"),
        ),
    )


class EmailAttachment(Base):
    """A file mailed with one event's deliveries (deleted with the last of them)."""

    __tablename__ = "email_attachments"

    # The event's id: a redelivered event finds its attachment stored already.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.Text)
    media_type: Mapped[str] = mapped_column(sa.Text)
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )


class DigestItem(Base):
    """A notification a user chose to receive in their daily digest rather than at once."""

    __tablename__ = "digest_items"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(sa.Text)
    ticket_id: Mapped[uuid.UUID | None]
    ticket_number: Mapped[str | None] = mapped_column(sa.Text)
    # Rendered in the user's language when the event came: the mail's subject and summary.
    title: Mapped[str] = mapped_column(sa.Text)
    summary: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.Text)
    # When the item was queued: the digest of a day takes what came before its hour.
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    # Set, with the run, in the transaction that queues the digest's mail.
    digest_run_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("digest_runs.id"))

    __table_args__ = (
        # A redelivered event adds nothing.
        sa.UniqueConstraint("event_id", "user_id", name="uq_digest_items_event_user"),
        # The worker's question: whose items wait, since when.
        sa.Index(
            "ix_digest_items_waiting",
            "user_id",
            "created_at",
            postgresql_where=sa.text("digest_run_id IS NULL"),
        ),
        sa.Index("ix_digest_items_digest_run_id", "digest_run_id"),
    )


class DigestRun(Base):
    """One user's digest of one day: the unique key makes it go out once, however many
    replicas try at the same moment (the second waits for the first, then finds it done)."""

    __tablename__ = "digest_runs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID]
    # The office-time-zone date the digest is for.
    day: Mapped[date] = mapped_column(sa.Date)
    item_count: Mapped[int] = mapped_column(default=0)
    # The address mailed (the delivery's event_id is this run's id); NULL when the user had
    # no address or was disabled by then: the items are dropped.
    recipient: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )

    __table_args__ = (sa.UniqueConstraint("user_id", "day", name="uq_digest_runs_user_day"),)
