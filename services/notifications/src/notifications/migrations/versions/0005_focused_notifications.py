"""Focused notifications: triage group, per-user preferences, daily digest, and in-app
notifications addressed to the user personally.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column("addressed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index(
        "ix_notifications_user_addressed_seq",
        "notifications",
        ["user_id", "seq"],
        postgresql_where=sa.text("addressed"),
    )

    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "email IN ('instant', 'digest', 'off')",
            name=op.f("ck_notification_preferences_email_known"),
        ),
        sa.PrimaryKeyConstraint("user_id", "event", name=op.f("pk_notification_preferences")),
    )

    op.create_table(
        "triage_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_triage_settings_single_row")),
        sa.CheckConstraint(
            "mode IN ('all_agents', 'triage_group')", name=op.f("ck_triage_settings_mode_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_settings")),
    )
    op.create_table(
        "triage_members",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("weekdays", sa.ARRAY(sa.SmallInteger()), nullable=True),
        sa.Column("duty_from", sa.Time(), nullable=True),
        sa.Column("duty_to", sa.Time(), nullable=True),
        sa.CheckConstraint(
            "(weekdays IS NULL AND duty_from IS NULL AND duty_to IS NULL)"
            " OR (weekdays IS NOT NULL AND duty_from < duty_to)",
            name=op.f("ck_triage_members_duty_complete"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_triage_members")),
    )

    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_runs")),
        sa.UniqueConstraint("user_id", "day", name="uq_digest_runs_user_day"),
    )
    op.create_table(
        "digest_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=True),
        sa.Column("ticket_number", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("digest_run_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["digest_run_id"],
            ["digest_runs.id"],
            name=op.f("fk_digest_items_digest_run_id_digest_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_items")),
        sa.UniqueConstraint("event_id", "user_id", name="uq_digest_items_event_user"),
    )
    op.create_index(
        "ix_digest_items_waiting",
        "digest_items",
        ["user_id", "created_at"],
        postgresql_where=sa.text("digest_run_id IS NULL"),
    )
    op.create_index("ix_digest_items_digest_run_id", "digest_items", ["digest_run_id"])


def downgrade() -> None:
    op.drop_table("digest_items")
    op.drop_table("digest_runs")
    op.drop_table("triage_members")
    op.drop_table("triage_settings")
    op.drop_table("notification_preferences")
    op.drop_index("ix_notifications_user_addressed_seq", table_name="notifications")
    op.drop_column("notifications", "addressed")
