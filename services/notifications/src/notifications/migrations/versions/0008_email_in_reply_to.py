"""E-mail deliveries may answer a mail (In-Reply-To and References): the reply to a sender
whose mail opened no ticket (``intake.sender_refused``) threads under their mail.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("email_deliveries", sa.Column("in_reply_to", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("email_deliveries", "in_reply_to")
