"""The chat channels, their messages and conversations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "chat_channels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("verify_token_encrypted", sa.Text(), nullable=True),
        sa.Column("default_unit_id", sa.Uuid(), nullable=False),
        sa.Column("default_category_id", sa.Uuid(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "provider IN ('whatsapp', 'generic')", name=op.f("ck_chat_channels_provider_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_channels")),
    )
    op.create_index(op.f("ix_chat_channels_created"), "chat_channels", ["created_at", "id"])
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("provider_message_id", sa.Text(), nullable=False),
        sa.Column("conversation_id", sa.Text(), nullable=False),
        sa.Column("sender_name", sa.Text(), nullable=False),
        sa.Column("sender_contact", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("ticket_id", sa.Uuid(), nullable=True),
        sa.Column("ticket_number", sa.Text(), nullable=True),
        sa.Column("comment_id", sa.Uuid(), nullable=True),
        sa.UniqueConstraint(
            "channel_id", "provider_message_id", name=op.f("uq_chat_messages_channel_provider_id")
        ),
        sa.CheckConstraint(
            "outcome IN ('ticket', 'comment', 'refused')",
            name=op.f("ck_chat_messages_outcome_known"),
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["chat_channels.id"],
            name=op.f("fk_chat_messages_channel_id_chat_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    op.create_index(
        op.f("ix_chat_messages_channel_received"),
        "chat_messages",
        ["channel_id", "received_at", "id"],
    )
    op.create_table(
        "chat_conversations",
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_number", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["chat_channels.id"],
            name=op.f("fk_chat_conversations_channel_id_chat_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "channel_id", "conversation_id", name=op.f("pk_chat_conversations")
        ),
    )


def downgrade() -> None:
    op.drop_table("chat_conversations")
    op.drop_table("chat_messages")
    op.drop_table("chat_channels")
