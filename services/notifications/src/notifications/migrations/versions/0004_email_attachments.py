"""E-mail attachments (a scheduled report's PDF), stored once per event.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_attachments")),
    )
    op.add_column("email_deliveries", sa.Column("attachment_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_email_deliveries_attachment_id_email_attachments"),
        "email_deliveries",
        "email_attachments",
        ["attachment_id"],
        ["id"],
    )
    op.create_index(
        "ix_email_deliveries_attachment_id",
        "email_deliveries",
        ["attachment_id"],
        postgresql_where=sa.text("attachment_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_email_deliveries_attachment_id", table_name="email_deliveries")
    op.drop_column("email_deliveries", "attachment_id")
    op.drop_table("email_attachments")
