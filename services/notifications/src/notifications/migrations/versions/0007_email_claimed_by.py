"""E-mail deliveries remember which sender claimed them, so that sender can take back the
ones it never got in memory (a commit whose answer was lost) and hand back all of its own
on stop, without touching what another live sender is sending.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("email_deliveries", sa.Column("claimed_by", sa.Uuid(), nullable=True))
    op.create_index(
        "ix_email_deliveries_claimed_by",
        "email_deliveries",
        ["claimed_by"],
        postgresql_where=sa.text("status = 'sending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_email_deliveries_claimed_by", table_name="email_deliveries")
    op.drop_column("email_deliveries", "claimed_by")
