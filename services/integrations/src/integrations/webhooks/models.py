"""The outbound webhooks and their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from integrations.db import Base

# A delivery still to be made (pending: not tried yet; retrying: tried and failed, due again
# at next_attempt_at) or done (succeeded; failed: given up after the retry window).
OUTSTANDING = ("pending", "retrying")


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(pg.UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    url: Mapped[str] = mapped_column(sa.Text)
    # The signing key, encrypted (runtime.cipher); never returned after the 201 that made it.
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    event_types: Mapped[list[str]] = mapped_column(pg.ARRAY(sa.Text))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # Since when no attempt succeeded (null while the last attempt succeeded).
    failing_since: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text)
    last_success_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # One delivery per event and webhook (the consumer may see an event twice); a
        # redelivery is a row of its own that names the first.
        sa.Index(
            "uq_webhook_deliveries_event",
            "webhook_id",
            "event_id",
            unique=True,
            postgresql_where=sa.text("redelivery_of IS NULL"),
        ),
        # The sender's work: what is due.
        sa.Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=sa.text("status IN ('pending', 'retrying')"),
        ),
        # In order per (webhook, ticket): the older outstanding deliveries of a ticket.
        sa.Index(
            "ix_webhook_deliveries_ticket",
            "webhook_id",
            "ticket_id",
            "occurred_at",
            "seq",
            postgresql_where=sa.text("status IN ('pending', 'retrying')"),
        ),
        # The log, newest first.
        sa.Index("ix_webhook_deliveries_log", "webhook_id", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(pg.UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), unique=True)
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        pg.UUID(as_uuid=True), sa.ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(pg.UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(sa.Text)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(pg.UUID(as_uuid=True))
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    redelivery_of: Mapped[uuid.UUID | None] = mapped_column(pg.UUID(as_uuid=True))
    # The exact JSON body POSTed (the same bytes at every attempt).
    request_body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text, default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    first_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    response_excerpt: Mapped[str | None] = mapped_column(sa.Text)
    delivered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(sa.Integer)
    # A sender holding the delivery (claimed, being sent) until lease_until.
    lease_token: Mapped[uuid.UUID | None] = mapped_column(pg.UUID(as_uuid=True))
    lease_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
