"""The integrations service's first tables: the directory replica, outbox and inbox, and the
idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from typing import cast

from alembic import op
from alembic.operations import Operations

from helpdesk_common.directory import create_directory_tables
from helpdesk_common.idempotency import create_idempotency_table, drop_idempotency_table
from helpdesk_common.outbox import create_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables(op)
    create_directory_tables(cast(Operations, op))  # the module proxies an Operations
    create_idempotency_table(op)


def downgrade() -> None:
    drop_idempotency_table(op)
    for table in ("organisation", "users", "units", "inbox", "outbox"):
        op.drop_table(table)
