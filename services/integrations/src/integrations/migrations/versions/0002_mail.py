"""The mailboxes and the processed messages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mail_mailboxes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("default_unit_id", sa.Uuid(), nullable=False),
        sa.Column("default_category_id", sa.Uuid(), nullable=False),
        sa.Column("unknown_senders", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("poll_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("last_polled_at", TZ, nullable=True),
        sa.Column("last_success_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failing_since", TZ, nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_until", TZ, nullable=True),
        sa.UniqueConstraint("name", name="uq_mail_mailboxes_name"),
    )
    op.create_table(
        "mail_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "mailbox_id",
            sa.Uuid(),
            sa.ForeignKey(
                "mail_mailboxes.id",
                ondelete="CASCADE",
                name="fk_mail_messages_mailbox_id_mail_mailboxes",
            ),
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("from_address", sa.Text(), nullable=True),
        sa.Column("from_name", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("received_at", TZ, nullable=True),
        sa.Column("processed_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("ticket_id", sa.Uuid(), nullable=True),
        sa.Column("ticket_number", sa.Text(), nullable=True),
        sa.Column("attachments_stored", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attachments_refused", sa.Integer(), server_default="0", nullable=False),
        sa.UniqueConstraint("mailbox_id", "dedupe_key", name="uq_mail_messages_mailbox_key"),
    )
    op.create_index("ix_mail_messages_mailbox_id", "mail_messages", ["mailbox_id", "id"])
    op.create_index("ix_mail_messages_message_id", "mail_messages", ["mailbox_id", "message_id"])
    op.create_index(
        "ix_mail_messages_sender", "mail_messages", ["mailbox_id", "from_address", "processed_at"]
    )
    op.create_table(
        "mail_refusals",
        sa.Column(
            "mailbox_id",
            sa.Uuid(),
            sa.ForeignKey(
                "mail_mailboxes.id",
                ondelete="CASCADE",
                name="fk_mail_refusals_mailbox_id_mail_mailboxes",
            ),
            primary_key=True,
        ),
        sa.Column("address", sa.Text(), primary_key=True),
        sa.Column("answered_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mail_refusals")
    op.drop_table("mail_messages")
    op.drop_table("mail_mailboxes")
