"""The read model (facts, rollups and duration histograms by generation), dimension
names, the directory replica, outbox and inbox.

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
        "dimension_names",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_dimension_names")),
    )
    op.create_table(
        "duration_histogram",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "generation",
            "metric",
            "kind",
            "month",
            "value",
            "bucket",
            name=op.f("pk_duration_histogram"),
        ),
    )
    op.create_table(
        "read_model_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("building", sa.Integer(), nullable=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("build_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("build_requested_by", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("purging", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_read_model_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_model_state")),
    )
    op.create_table(
        "rebuild_progress",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("tickets", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("generation", name=op.f("pk_rebuild_progress")),
    )
    op.create_table(
        "rollup_day_agent",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("assignee_id", sa.UUID(), nullable=False),
        sa.Column("created", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_new", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_in_progress", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_closed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("responded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("escalated", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reopened", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "generation", "day", "assignee_id", name=op.f("pk_rollup_day_agent")
        ),
    )
    op.create_index(
        "ix_rollup_day_agent_assignee_id",
        "rollup_day_agent",
        ["generation", "assignee_id", "day"],
        unique=False,
    )
    op.create_table(
        "rollup_day_category",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("category_id", sa.UUID(), nullable=False),
        sa.Column("created", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_new", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_in_progress", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_closed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("responded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("escalated", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reopened", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "generation", "day", "category_id", name=op.f("pk_rollup_day_category")
        ),
    )
    op.create_index(
        "ix_rollup_day_category_category_id",
        "rollup_day_category",
        ["generation", "category_id", "day"],
        unique=False,
    )
    op.create_table(
        "rollup_day_channel",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_new", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_in_progress", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_closed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("responded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("escalated", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reopened", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("generation", "day", "channel", name=op.f("pk_rollup_day_channel")),
    )
    op.create_index(
        "ix_rollup_day_channel_channel",
        "rollup_day_channel",
        ["generation", "channel", "day"],
        unique=False,
    )
    op.create_table(
        "rollup_day_priority",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_new", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_in_progress", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_closed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("responded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("escalated", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reopened", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "generation", "day", "priority", name=op.f("pk_rollup_day_priority")
        ),
    )
    op.create_index(
        "ix_rollup_day_priority_priority",
        "rollup_day_priority",
        ["generation", "priority", "day"],
        unique=False,
    )
    op.create_table(
        "rollup_day",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.UUID(), nullable=False),
        sa.Column("category_id", sa.UUID(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("assignee_id", sa.UUID(), nullable=False),
        sa.Column("created", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_new", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_in_progress", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_closed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("responded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("escalated", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reopened", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "generation",
            "day",
            "unit_id",
            "category_id",
            "priority",
            "channel",
            "assignee_id",
            name=op.f("pk_rollup_day"),
        ),
    )
    op.create_index(
        "ix_rollup_day_assignee_id",
        "rollup_day",
        ["generation", "assignee_id", "day"],
        unique=False,
    )
    op.create_index(
        "ix_rollup_day_category_id",
        "rollup_day",
        ["generation", "category_id", "day"],
        unique=False,
    )
    op.create_index(
        "ix_rollup_day_channel", "rollup_day", ["generation", "channel", "day"], unique=False
    )
    op.create_index(
        "ix_rollup_day_priority", "rollup_day", ["generation", "priority", "day"], unique=False
    )
    op.create_index(
        "ix_rollup_day_unit_id", "rollup_day", ["generation", "unit_id", "day"], unique=False
    )
    op.create_table(
        "rollup_day_unit",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.UUID(), nullable=False),
        sa.Column("created", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_new", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_in_progress", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_closed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("responded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("escalated", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reopened", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("generation", "day", "unit_id", name=op.f("pk_rollup_day_unit")),
    )
    op.create_index(
        "ix_rollup_day_unit_unit_id",
        "rollup_day_unit",
        ["generation", "unit_id", "day"],
        unique=False,
    )
    op.create_table(
        "rollup_month",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.UUID(), nullable=False),
        sa.Column("category_id", sa.UUID(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_new", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_in_progress", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_closed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("responded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("escalated", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reopened", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "generation",
            "month",
            "unit_id",
            "category_id",
            "priority",
            "channel",
            name=op.f("pk_rollup_month"),
        ),
    )
    op.create_index(
        "ix_rollup_month_category_id",
        "rollup_month",
        ["generation", "category_id", "month"],
        unique=False,
    )
    op.create_index(
        "ix_rollup_month_channel", "rollup_month", ["generation", "channel", "month"], unique=False
    )
    op.create_index(
        "ix_rollup_month_priority",
        "rollup_month",
        ["generation", "priority", "month"],
        unique=False,
    )
    op.create_index(
        "ix_rollup_month_unit_id", "rollup_month", ["generation", "unit_id", "month"], unique=False
    )
    op.create_table(
        "rollup_month_agent",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("assignee_id", sa.UUID(), nullable=False),
        sa.Column("unit_id", sa.UUID(), nullable=False),
        sa.Column("created", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_new", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_in_progress", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_closed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("st_rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("responded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fr_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("escalated", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("res_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reopened", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "generation", "month", "assignee_id", "unit_id", name=op.f("pk_rollup_month_agent")
        ),
    )
    op.create_index(
        "ix_rollup_month_agent_assignee_id",
        "rollup_month_agent",
        ["generation", "assignee_id", "month"],
        unique=False,
    )
    op.create_index(
        "ix_rollup_month_agent_unit_id",
        "rollup_month_agent",
        ["generation", "unit_id", "month"],
        unique=False,
    )
    op.create_table(
        "ticket_facts",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.UUID(), nullable=False),
        sa.Column("category_id", sa.UUID(), nullable=False),
        sa.Column("assignee_id", sa.UUID(), nullable=False),
        sa.Column("unit_name", sa.Text(), nullable=True),
        sa.Column("category_name", sa.Text(), nullable=True),
        sa.Column("assignee_name", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_seconds", sa.Integer(), nullable=True),
        sa.Column("resolution_seconds", sa.Integer(), nullable=True),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("result_summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("generation", "ticket_id", name=op.f("pk_ticket_facts")),
    )
    op.create_index(
        "ix_ticket_facts_created",
        "ticket_facts",
        ["generation", "created_at"],
        unique=False,
        postgresql_include=[
            "first_response_seconds",
            "unit_id",
            "category_id",
            "assignee_id",
            "priority",
            "channel",
        ],
    )
    op.create_index(
        "ix_ticket_facts_unit_created",
        "ticket_facts",
        ["generation", "unit_id", "created_at"],
        unique=False,
        postgresql_include=[
            "first_response_seconds",
            "category_id",
            "priority",
            "channel",
            "assignee_id",
        ],
    )
    op.create_index(
        "ix_ticket_facts_unit_resolved",
        "ticket_facts",
        ["generation", "unit_id", "resolved_at"],
        unique=False,
        postgresql_include=[
            "resolution_seconds",
            "category_id",
            "priority",
            "channel",
            "assignee_id",
        ],
        postgresql_where=sa.text("resolved_at IS NOT NULL"),
    )
    op.create_index(
        "ix_ticket_facts_open",
        "ticket_facts",
        ["generation", "unit_id"],
        unique=False,
        postgresql_include=["category_id", "priority", "channel", "assignee_id"],
        postgresql_where=sa.text("done_at IS NULL"),
    )
    op.create_index(
        "ix_ticket_facts_resolved",
        "ticket_facts",
        ["generation", "resolved_at", "ticket_id"],
        unique=False,
        postgresql_include=[
            "resolution_seconds",
            "unit_id",
            "category_id",
            "assignee_id",
            "priority",
            "channel",
        ],
        postgresql_where=sa.text("resolved_at IS NOT NULL"),
    )
    # Generation 1, never built: the rebuild worker fills it from the tickets service.
    op.execute("INSERT INTO read_model_state (id, active) VALUES (1, 1)")


def downgrade() -> None:
    # Indexes go with their tables; the directory's and the messaging tables last.
    for table in (
        "ticket_facts",
        "rollup_month_agent",
        "rollup_month",
        "rollup_day_unit",
        "rollup_day",
        "rollup_day_priority",
        "rollup_day_channel",
        "rollup_day_category",
        "rollup_day_agent",
        "rebuild_progress",
        "read_model_state",
        "duration_histogram",
        "dimension_names",
        "users",
        "units",
        "inbox",
        "outbox",
    ):
        op.drop_table(table)
