"""The files on tickets, the local copy of the tickets, the directory replica, outbox and
inbox.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from collections.abc import Sequence
from typing import cast

import sqlalchemy as sa
from alembic import op
from alembic.operations import Operations

from helpdesk_common.directory import create_directory_tables
from helpdesk_common.outbox import create_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables(op)
    create_directory_tables(cast(Operations, op))  # the module proxies an Operations
    op.create_table(
        "tickets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("media_type", sa.String(), nullable=False),
        sa.Column("type_name", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("object_key", sa.String(), nullable=False),
        sa.Column("thumbnail_key", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("scan_status", sa.String(), nullable=False),
        sa.Column("scan_signature", sa.String(), nullable=True),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metadata_stripped", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), nullable=False),
        sa.Column("uploaded_by_name", sa.String(), nullable=False),
        sa.Column("uploaded_by_role", sa.String(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_attachments_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("object_key", name=op.f("uq_attachments_object_key")),
        sa.UniqueConstraint(
            "uploaded_by",
            "idempotency_key",
            name=op.f("uq_attachments_uploaded_by"),
        ),
    )
    op.create_index("ix_attachments_ticket", "attachments", ["ticket_id", "uploaded_at", "id"])
    op.create_index(
        "ix_attachments_scan_pending",
        "attachments",
        ["uploaded_at"],
        postgresql_where=sa.text("scan_status = 'pending' AND state = 'stored'"),
    )
    op.create_index("ix_attachments_sweep", "attachments", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_table("attachments")
    op.drop_table("tickets")
