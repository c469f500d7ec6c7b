"""The organisation's identity (the documents' letterhead): one row, set by administrators.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.SmallInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("parent_name", sa.Text, nullable=True),
        sa.Column("address", sa.Text, nullable=True),
        sa.Column("phone", sa.Text, nullable=True),
        sa.Column("email", sa.Text, nullable=True),
        sa.Column("website", sa.Text, nullable=True),
        sa.Column("logo", sa.LargeBinary, nullable=True),
        sa.Column("logo_media_type", sa.Text, nullable=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("updated_by_name", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.CheckConstraint("id = 1", name=op.f("ck_organisation_single_row")),
        sa.CheckConstraint(
            "logo_media_type IN ('image/png', 'image/jpeg', 'image/svg+xml')",
            name=op.f("ck_organisation_logo_media_type_known"),
        ),
        sa.CheckConstraint(
            "(logo IS NULL) = (logo_media_type IS NULL)",
            name=op.f("ck_organisation_logo_has_media_type"),
        ),
    )


def downgrade() -> None:
    op.drop_table("organisation")
