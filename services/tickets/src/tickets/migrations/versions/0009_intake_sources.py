"""The intake channels' sources (issue 14): which ticket or comment each mail or chat
message made, so that a repeated one makes nothing twice.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_sources",
        sa.Column("source_key", sa.String(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("comment_id", sa.Uuid(), nullable=True),
        sa.Column("reopened", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_intake_sources_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_intake_sources_comment_id_comments")
        ),
        sa.PrimaryKeyConstraint("source_key", name=op.f("pk_intake_sources")),
    )
    op.create_index("ix_intake_sources_ticket", "intake_sources", ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_intake_sources_ticket", table_name="intake_sources")
    op.drop_table("intake_sources")
