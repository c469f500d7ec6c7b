"""Initial schema and default master data.

Tables of the tickets service, its outbox/inbox, a trigger that keeps the timeline
append-only, and sensible defaults an administrator adjusts later: priorities with SLA
targets, categories (jenis pekerjaan), office hours (Asia/Jakarta) and fixed-date holidays.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 07:36:33.030557
"""

import uuid
from collections.abc import Sequence
from datetime import date, time

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from helpdesk_common.outbox import create_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "holidays",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holidays")),
        sa.UniqueConstraint("day", name=op.f("uq_holidays_day")),
    )
    op.create_table(
        "office_hours",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_office_hours")),
    )
    op.create_table(
        "priorities",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_priorities")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("contact_name", sa.String(), nullable=True),
        sa.Column("contact_email", sa.String(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("full_name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(op.f("ix_users_role"), "users", ["role"], unique=False)
    op.create_table(
        "categories",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("default_priority", sa.String(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["default_priority"],
            ["priorities.code"],
            name=op.f("fk_categories_default_priority_priorities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
    )
    op.create_index(
        "uq_categories_lower_name", "categories", [sa.literal_column("lower(name)")], unique=True
    )
    op.create_table(
        "sla_policies",
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["priority"], ["priorities.code"], name=op.f("fk_sla_policies_priority_priorities")
        ),
        sa.PrimaryKeyConstraint("priority", name=op.f("pk_sla_policies")),
    )
    op.create_table(
        "priority_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("keyword", sa.String(), nullable=True),
        sa.Column("unit_id", sa.Uuid(), nullable=True),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_priority_rules_category_id_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["priority"], ["priorities.code"], name=op.f("fk_priority_rules_priority_priorities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_priority_rules")),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("priority_source", sa.String(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=True),
        sa.Column("requester_name", sa.String(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_name", sa.String(), nullable=False),
        sa.Column("created_by_role", sa.String(), nullable=False),
        sa.Column("contact_name", sa.String(), nullable=True),
        sa.Column("contact_phone", sa.String(), nullable=True),
        sa.Column("contact_email", sa.String(), nullable=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("status_reason", sa.String(), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("assignee_name", sa.String(), nullable=True),
        sa.Column("result_summary", sa.String(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_seconds", sa.Integer(), nullable=True),
        sa.Column("resolution_seconds", sa.Integer(), nullable=True),
        sa.Column("sla_first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("sla_resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("first_response_warn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_escalate_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_warn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_escalate_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("sla_paused_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_paused_seconds", sa.Integer(), nullable=False),
        sa.Column("sla_next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('indonesian', coalesce(number, '') || ' ' || title), 'A') || setweight(to_tsvector('indonesian', description), 'B')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('new', 'in_progress', 'pending', 'resolved', 'closed', 'rejected')",
            name=op.f("ck_tickets_status"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"], name=op.f("fk_tickets_category_id_categories")
        ),
        sa.ForeignKeyConstraint(
            ["priority"], ["priorities.code"], name=op.f("fk_tickets_priority_priorities")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_tickets_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("number", name=op.f("uq_tickets_number")),
    )
    op.create_index("ix_tickets_assignee", "tickets", ["assignee_id", "status"], unique=False)
    op.create_index("ix_tickets_created", "tickets", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_tickets_resolved_open",
        "tickets",
        ["resolved_at"],
        unique=False,
        postgresql_where=sa.text("status = 'resolved'"),
    )
    op.create_index(
        "ix_tickets_search", "tickets", ["search"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "ix_tickets_sla_next_check",
        "tickets",
        ["sla_next_check_at"],
        unique=False,
        postgresql_where=sa.text("sla_next_check_at IS NOT NULL"),
    )
    op.create_index("ix_tickets_status_created", "tickets", ["status", "created_at"], unique=False)
    op.create_index(
        "ix_tickets_unit_created", "tickets", ["unit_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("author_name", sa.String(), nullable=False),
        sa.Column("author_role", sa.String(), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_comments_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index("ix_comments_ticket", "comments", ["ticket_id", "created_at"], unique=False)
    op.create_table(
        "timeline",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(), nullable=False),
        sa.Column("actor_role", sa.String(), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_timeline_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline")),
    )
    op.create_index("ix_timeline_ticket", "timeline", ["ticket_id", "id"], unique=False)
    op.create_index(
        "uq_priorities_default",
        "priorities",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    for statement in IMMUTABLE_TIMELINE:
        op.execute(statement)
    seed_master_data()


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS timeline_immutable ON timeline")
    op.execute("DROP FUNCTION IF EXISTS timeline_refuse_change()")
    op.drop_index("ix_timeline_ticket", table_name="timeline")
    op.drop_table("timeline")
    op.drop_index("ix_comments_ticket", table_name="comments")
    op.drop_table("comments")
    op.drop_index("ix_tickets_unit_created", table_name="tickets")
    op.drop_index("ix_tickets_status_created", table_name="tickets")
    op.drop_index(
        "ix_tickets_sla_next_check",
        table_name="tickets",
        postgresql_where=sa.text("sla_next_check_at IS NOT NULL"),
    )
    op.drop_index("ix_tickets_search", table_name="tickets", postgresql_using="gin")
    op.drop_index(
        "ix_tickets_resolved_open",
        table_name="tickets",
        postgresql_where=sa.text("status = 'resolved'"),
    )
    op.drop_index("ix_tickets_created", table_name="tickets")
    op.drop_index("ix_tickets_assignee", table_name="tickets")
    op.drop_table("tickets")
    op.drop_table("priority_rules")
    op.drop_table("sla_policies")
    op.drop_index("uq_categories_lower_name", table_name="categories")
    op.drop_table("categories")
    op.drop_index(op.f("ix_users_role"), table_name="users")
    op.drop_table("users")
    op.drop_table("units")
    op.drop_table("priorities")
    op.drop_table("office_hours")
    op.drop_table("holidays")
    op.drop_table("audit_log")
    op.drop_table("inbox")
    op.drop_table("outbox")


IMMUTABLE_TIMELINE = (
    """
    CREATE FUNCTION timeline_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the ticket timeline is append-only';
    END;
    $$
    """,
    """
    CREATE TRIGGER timeline_immutable BEFORE UPDATE OR DELETE ON timeline
        FOR EACH ROW EXECUTE FUNCTION timeline_refuse_change()
    """,
)

# (code, name, rank, is_default, first-response minutes, resolution minutes); the targets
# are working minutes: a working day is about eight and a half hours.
PRIORITIES = [
    ("low", "Rendah", 10, False, 480, 2880),
    ("normal", "Normal", 20, True, 240, 1440),
    ("high", "Tinggi", 30, False, 60, 480),
    ("critical", "Kritis", 40, False, 30, 240),
]

CATEGORIES = [
    ("Jaringan & Internet", "Koneksi internet, jaringan kantor, Wi-Fi", "high"),
    ("Perangkat Keras", "Komputer, laptop, printer dan perangkat lain", "normal"),
    ("Aplikasi", "Aplikasi perkantoran dan sistem informasi", "normal"),
    ("Email & Akun", "Email dinas, akun dan kata sandi", "normal"),
    ("Website", "Website dan subdomain SKPD", "normal"),
    ("Lainnya", "Permintaan lain", "low"),
]

# Keyword rules for automatic priority; the most urgent matching rule wins.
KEYWORD_RULES = [
    ("mati total", "critical"),
    ("server down", "critical"),
    ("ransomware", "critical"),
    ("virus", "high"),
]

# Monday to Thursday 07:30-16:00; Friday with the long midday break for Friday prayers.
OFFICE_HOURS = [
    *[(day, time(7, 30), time(16, 0)) for day in range(4)],
    (4, time(7, 30), time(11, 30)),
    (4, time(13, 30), time(16, 30)),
]

# Fixed-date national holidays; the moving ones (Idul Fitri, Idul Adha, Nyepi, Waisak,
# cuti bersama ...) are announced yearly and entered by the administrator.
FIXED_HOLIDAYS = [
    (1, 1, "Tahun Baru Masehi"),
    (5, 1, "Hari Buruh Internasional"),
    (6, 1, "Hari Lahir Pancasila"),
    (8, 17, "Hari Kemerdekaan Republik Indonesia"),
    (12, 25, "Hari Raya Natal"),
]
HOLIDAY_YEARS = range(2025, 2031)

SEED_NAMESPACE = uuid.UUID("6f1d3a52-8c55-4b0e-9a51-3b8f8e0c2a10")


def seed_master_data() -> None:
    priorities = sa.table(
        "priorities",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("rank", sa.Integer),
        sa.column("is_default", sa.Boolean),
        sa.column("is_active", sa.Boolean),
    )
    sla = sa.table(
        "sla_policies",
        sa.column("priority", sa.String),
        sa.column("first_response_minutes", sa.Integer),
        sa.column("resolution_minutes", sa.Integer),
    )
    categories = sa.table(
        "categories",
        sa.column("id", sa.Uuid),
        sa.column("name", sa.String),
        sa.column("description", sa.String),
        sa.column("default_priority", sa.String),
        sa.column("is_active", sa.Boolean),
    )
    rules = sa.table(
        "priority_rules",
        sa.column("id", sa.Uuid),
        sa.column("keyword", sa.String),
        sa.column("priority", sa.String),
        sa.column("is_active", sa.Boolean),
    )
    hours = sa.table(
        "office_hours",
        sa.column("weekday", sa.SmallInteger),
        sa.column("start_time", sa.Time),
        sa.column("end_time", sa.Time),
    )
    holidays = sa.table(
        "holidays",
        sa.column("id", sa.Uuid),
        sa.column("day", sa.Date),
        sa.column("name", sa.String),
    )
    op.bulk_insert(
        priorities,
        [
            {"code": c, "name": n, "rank": r, "is_default": d, "is_active": True}
            for c, n, r, d, _, _ in PRIORITIES
        ],
    )
    op.bulk_insert(
        sla,
        [
            {"priority": c, "first_response_minutes": fr, "resolution_minutes": res}
            for c, _, _, _, fr, res in PRIORITIES
        ],
    )
    op.bulk_insert(
        categories,
        [
            {
                "id": uuid.uuid5(SEED_NAMESPACE, f"category:{name}"),
                "name": name,
                "description": description,
                "default_priority": priority,
                "is_active": True,
            }
            for name, description, priority in CATEGORIES
        ],
    )
    op.bulk_insert(
        rules,
        [
            {
                "id": uuid.uuid5(SEED_NAMESPACE, f"rule:{keyword}"),
                "keyword": keyword,
                "priority": priority,
                "is_active": True,
            }
            for keyword, priority in KEYWORD_RULES
        ],
    )
    op.bulk_insert(
        hours, [{"weekday": d, "start_time": s, "end_time": e} for d, s, e in OFFICE_HOURS]
    )
    op.bulk_insert(
        holidays,
        [
            {
                "id": uuid.uuid5(SEED_NAMESPACE, f"holiday:{year}-{month}-{day}"),
                "day": date(year, month, day),
                "name": name,
            }
            for year in HOLIDAY_YEARS
            for month, day, name in FIXED_HOLIDAYS
        ],
    )
