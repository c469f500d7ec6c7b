"""The directory's organisation: the identity printed on documents (organisation.updated).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence
from typing import cast

from alembic import op
from alembic.operations import Operations

from helpdesk_common.directory import create_directory_tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_directory_tables(cast(Operations, op))  # adds what is missing: "organisation"


def downgrade() -> None:
    op.drop_table("organisation")
