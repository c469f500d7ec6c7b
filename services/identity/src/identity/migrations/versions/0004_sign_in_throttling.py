"""Sign-in throttling per account and address instead of an account lock-out.

Failures are counted per (user name, client address) in ``login_attempts``; the users row
keeps the account-wide count for attack detection and when the user was last alerted.
Accounts locked by the old rule are unlocked.

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

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("ip", sa.Text, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failed_at", TS, nullable=False),
        sa.Column("retry_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("username", "ip", name=op.f("pk_login_attempts")),
    )
    op.create_index("ix_login_attempts_last_failed_at", "login_attempts", ["last_failed_at"])
    op.add_column("users", sa.Column("sign_in_alerted_at", TS, nullable=True))
    op.execute(
        "UPDATE users SET locked_until = NULL, failed_login_count = 0,"
        " failed_login_window_started_at = NULL"
    )


def downgrade() -> None:
    op.drop_column("users", "sign_in_alerted_at")
    op.drop_table("login_attempts")
