"""The source key of a file that came by mail or chat (the intake's internal upload): unique,
so that a repeated upload returns the first file, forever.

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


def upgrade() -> None:
    op.add_column("attachments", sa.Column("source_key", sa.String(), nullable=True))
    op.create_unique_constraint(op.f("uq_attachments_source_key"), "attachments", ["source_key"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_attachments_source_key"), "attachments", type_="unique")
    op.drop_column("attachments", "source_key")
