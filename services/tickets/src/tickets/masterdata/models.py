"""Master data managed by administrators: priorities, SLA, categories, calendar, rules."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tickets.db import Base


class Priority(Base):
    __tablename__ = "priorities"

    code: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    # Higher is more urgent; sorting and "most urgent rule wins" use it.
    rank: Mapped[int]
    is_default: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())

    __table_args__ = (
        sa.Index(
            "uq_priorities_default",
            "is_default",
            unique=True,
            postgresql_where=sa.text("is_default"),
        ),
    )


class SlaPolicy(Base):
    __tablename__ = "sla_policies"

    priority: Mapped[str] = mapped_column(sa.ForeignKey("priorities.code"), primary_key=True)
    # Targets in working minutes (office hours only, holidays excluded).
    first_response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str]
    description: Mapped[str | None]
    default_priority: Mapped[str | None] = mapped_column(sa.ForeignKey("priorities.code"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())

    __table_args__ = (sa.Index("uq_categories_lower_name", sa.text("lower(name)"), unique=True),)


class OfficeHours(Base):
    __tablename__ = "office_hours"

    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)  # 0 = Monday ... 6 = Sunday
    start_time: Mapped[time]
    end_time: Mapped[time]


class Holiday(Base):
    __tablename__ = "holidays"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    day: Mapped[date] = mapped_column(unique=True)
    name: Mapped[str]


class PriorityRule(Base):
    """Automatic priority: when every given condition matches, the ticket gets ``priority``."""

    __tablename__ = "priority_rules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    keyword: Mapped[str | None]
    unit_id: Mapped[uuid.UUID | None]
    category_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("categories.id"))
    priority: Mapped[str] = mapped_column(sa.ForeignKey("priorities.code"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class AuditEntry(Base):
    """Administrative changes to master data (SPEC §10: audit log of administrative changes)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str]
    action: Mapped[str]  # e.g. "category.updated"
    entity_id: Mapped[str]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
