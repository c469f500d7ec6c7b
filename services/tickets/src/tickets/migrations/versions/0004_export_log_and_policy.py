"""The ticket export's audit log and its privacy policy (who may export personal data).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "export_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("user_name", sa.String(), nullable=False),
        sa.Column("user_role", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filters", postgresql.JSONB(), nullable=False),
        sa.Column("columns", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'aborted')",
            name=op.f("ck_export_log_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_log")),
    )
    op.create_table(
        "export_policy",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("contact_roles", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.Column("updated_by_name", sa.String(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_export_policy_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_policy")),
    )
    # The default until an administrator decides otherwise: only administrators may export
    # the requesters' contact details.
    op.execute(
        "INSERT INTO export_policy (id, contact_roles, updated_at) VALUES (1, ARRAY['admin'], now())"
    )


def downgrade() -> None:
    op.drop_table("export_policy")
    op.drop_table("export_log")
