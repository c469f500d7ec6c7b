"""Tables of the identity service (schema ``identity``; declared without a schema)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk_common.contracts.identity import LANGUAGES, ROLES, Language, Role
from identity.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


Timestamp = sa.DateTime(timezone=True)


class Unit(Base):
    """A work unit (SKPD) whose staff request help from the IT office."""

    __tablename__ = "units"

    id: Mapped[uuid.UUID] = mapped_column(pg.UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str] = mapped_column(sa.Text)
    contact_name: Mapped[str | None] = mapped_column(sa.Text)
    contact_email: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    revision: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    __table_args__ = (sa.Index("uq_units_code_ci", sa.func.lower(code), unique=True),)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(pg.UUID(as_uuid=True), primary_key=True)
    username: Mapped[str] = mapped_column(sa.Text)
    full_name: Mapped[str] = mapped_column(sa.Text)
    email: Mapped[str | None] = mapped_column(sa.Text)
    role: Mapped[Role] = mapped_column(sa.Text)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(
        pg.UUID(as_uuid=True), sa.ForeignKey("units.id"), index=True
    )
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    language: Mapped[Language] = mapped_column(sa.Text, default="id")
    password_hash: Mapped[str] = mapped_column(sa.Text)
    must_change_password: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Failed sign-ins on the account from any address in the current alert window (no
    # lock-out: see auth/throttle.py), the end of the longest delay some address is under
    # for it, and when the user and administrators were last told of an attack.
    failed_login_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    failed_login_window_started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)
    sign_in_alerted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_login_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revision: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    __table_args__ = (
        sa.Index("uq_users_username_ci", sa.func.lower(username), unique=True),
        sa.Index("uq_users_email_ci", sa.func.lower(email), unique=True),
        sa.Index("ix_users_role", role),
        sa.CheckConstraint(f"role IN {ROLES!r}", name="role_known"),
        sa.CheckConstraint(f"language IN {LANGUAGES!r}", name="language_known"),
        sa.CheckConstraint("role <> 'requester' OR unit_id IS NOT NULL", name="requester_has_unit"),
    )


class RefreshToken(Base):
    """An opaque refresh token, stored as its SHA-256 only.

    Every token descends from one login (its ``family_id``). A refresh uses the token up
    (``rotated_at``) and issues its successor; presenting a used token again means it was
    stolen, so the whole family is revoked.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(pg.UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        pg.UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(pg.UUID(as_uuid=True), index=True)
    token_hash: Mapped[str] = mapped_column(sa.Text, unique=True)
    issued_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    rotated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked_reason: Mapped[str | None] = mapped_column(sa.Text)
    client_ip: Mapped[str | None] = mapped_column(sa.Text)
    user_agent: Mapped[str | None] = mapped_column(sa.Text)


class AuditEntry(Base):
    """One administrative change: who did what to which entity, with before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(pg.UUID(as_uuid=True))  # None: system
    actor_name: Mapped[str] = mapped_column(sa.Text)
    action: Mapped[str] = mapped_column(sa.Text)
    entity_type: Mapped[str] = mapped_column(sa.Text)
    entity_id: Mapped[str] = mapped_column(sa.Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(pg.JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(pg.JSONB)
    request_id: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),)


class LoginAttempt(Base):
    """Failed sign-ins for one user name (lower-cased, known or not) from one address."""

    __tablename__ = "login_attempts"

    username: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    ip: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_failed_at: Mapped[datetime] = mapped_column(Timestamp)
    # No attempt from this pair is checked before then.
    retry_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (sa.Index("ix_login_attempts_last_failed_at", "last_failed_at"),)


class LoginIpThrottle(Base):
    """Failed logins per client address within the current window (shared by replicas)."""

    __tablename__ = "login_ip_throttle"

    ip: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(Timestamp)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(Timestamp)
