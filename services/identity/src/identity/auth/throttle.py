"""Login lock-out per account and rate limit per client address.

The state lives in PostgreSQL (the ``users`` row and ``login_ip_throttle``), so the limits
hold across replicas; rows are locked while updated, so concurrent attempts count exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.errors import TooManyRequests
from identity.models import LoginIpThrottle, User
from identity.settings import IdentitySettings


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    failure_window: timedelta
    lockout: timedelta
    ip_max_failures: int
    ip_window: timedelta
    ip_block: timedelta

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> LoginPolicy:
        return cls(
            max_failures=settings.login_max_failures,
            failure_window=timedelta(seconds=settings.login_failure_window_seconds),
            lockout=timedelta(seconds=settings.login_lockout_seconds),
            ip_max_failures=settings.login_ip_max_failures,
            ip_window=timedelta(seconds=settings.login_ip_window_seconds),
            ip_block=timedelta(seconds=settings.login_ip_block_seconds),
        )


def too_many_attempts(until: datetime, now: datetime) -> TooManyRequests:
    """Refused until ``until``: a 429 with Retry-After (and ``retry_after`` in the body)."""
    seconds = max(1, math.ceil((until - now).total_seconds()))
    return TooManyRequests(
        "too_many_attempts",
        "Too many failed sign-in attempts; try again later",
        retry_after=seconds,
        extra={"retry_after": seconds},
    )


# -- per account ---------------------------------------------------------------------------


def account_locked_until(user: User, now: datetime) -> datetime | None:
    if user.locked_until is not None and user.locked_until > now:
        return user.locked_until
    return None


def record_account_failure(user: User, *, policy: LoginPolicy, now: datetime) -> datetime | None:
    """Count a failure on a locked row; returns the lock's end if this failure locked it."""
    started = user.failed_login_window_started_at
    if started is None or started <= now - policy.failure_window:
        user.failed_login_window_started_at = now
        user.failed_login_count = 0
    user.failed_login_count += 1
    if user.failed_login_count < policy.max_failures:
        return None
    user.locked_until = now + policy.lockout
    user.failed_login_count = 0
    user.failed_login_window_started_at = None
    return user.locked_until


def clear_account_failures(user: User) -> None:
    user.failed_login_count = 0
    user.failed_login_window_started_at = None
    user.locked_until = None


# -- per client address ----------------------------------------------------------------------


async def ip_blocked_until(session: AsyncSession, *, ip: str, now: datetime) -> datetime | None:
    blocked = await session.scalar(
        sa.select(LoginIpThrottle.blocked_until).where(LoginIpThrottle.ip == ip)
    )
    return blocked if blocked is not None and blocked > now else None


async def record_ip_failure(
    session: AsyncSession, *, ip: str, policy: LoginPolicy, now: datetime
) -> datetime | None:
    """Count a failed attempt from ``ip``; returns the block's end if this one blocked it."""
    await session.execute(
        pg_insert(LoginIpThrottle)
        .values(ip=ip, window_started_at=now, failures=0)
        .on_conflict_do_nothing()
    )
    row = await session.scalar(
        sa.select(LoginIpThrottle)
        .where(LoginIpThrottle.ip == ip)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    if row.window_started_at <= now - policy.ip_window:
        row.window_started_at = now
        row.failures = 0
    row.failures += 1
    if row.failures < policy.ip_max_failures:
        return None
    row.blocked_until = now + policy.ip_block
    row.failures = 0
    row.window_started_at = now
    return row.blocked_until


async def purge_stale(session: AsyncSession, *, policy: LoginPolicy, now: datetime) -> None:
    """Forget addresses whose window and block are both over (keeps the table small)."""
    await session.execute(
        sa.delete(LoginIpThrottle).where(
            LoginIpThrottle.window_started_at < now - policy.ip_window,
            sa.or_(LoginIpThrottle.blocked_until.is_(None), LoginIpThrottle.blocked_until < now),
        )
    )
