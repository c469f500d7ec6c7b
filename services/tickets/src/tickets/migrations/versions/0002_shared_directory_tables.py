"""The directory's users and units take the shared shape (helpdesk_common.directory).

Same tables, names and rows; what differed from the shape every consuming service now has:
revisions become BIGINT (identity's revision type), text columns TEXT instead of VARCHAR
(binary-compatible: no rewrite for those), and the role index also covers ``is_active``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT_COLUMNS = {
    "units": ("code", "name", "contact_name", "contact_email"),
    "users": ("username", "full_name", "email", "role", "language"),
}


def upgrade() -> None:
    for table, columns in _TEXT_COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String())
        op.alter_column(
            table,
            "revision",
            type_=sa.BigInteger(),
            existing_type=sa.Integer(),
            existing_nullable=False,
        )
    op.drop_index("ix_users_role", table_name="users")
    op.create_index("ix_users_role_is_active", "users", ["role", "is_active"])


def downgrade() -> None:
    op.drop_index("ix_users_role_is_active", table_name="users")
    op.create_index("ix_users_role", "users", ["role"])
    for table, columns in _TEXT_COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.String(), existing_type=sa.Text())
        op.alter_column(
            table,
            "revision",
            type_=sa.Integer(),
            existing_type=sa.BigInteger(),
            existing_nullable=False,
        )
