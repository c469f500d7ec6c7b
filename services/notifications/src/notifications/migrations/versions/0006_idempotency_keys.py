"""Idempotency keys: retry-safe creates and changes (helpdesk_common.idempotency).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

from helpdesk_common.idempotency import create_idempotency_table, drop_idempotency_table

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_idempotency_table(op)


def downgrade() -> None:
    drop_idempotency_table(op)
