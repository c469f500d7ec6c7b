"""Sign-in throttling without an account lock-out (OWASP Authentication Cheat Sheet).

- Per **user name and client address** (``login_attempts``): after ``delay_after`` failures
  the pair waits a delay doubling up to ``delay_max`` before its next attempt is checked at
  all; a correct password after the wait works. The key is the lower-cased name as typed,
  known or not, so an unknown name is slowed exactly like a real one.
- Per **client address** (``login_ip_throttle``): a hard limit over all names, against
  password spraying; the address is refused for ``ip_block``.
- Per **account** (the users row): failures from any address in the alert window, only to
  detect an attack and tell the user and the administrators, never to refuse anyone.

Nothing here refuses an address that has not been failing, so the owner signing in from a
clean address gets in whatever is tried elsewhere. The state lives in PostgreSQL, so the
limits hold across replicas; rows are locked while updated, so concurrent attempts count
exactly, and a pair's row stays locked while its password is checked, so parallel guesses
from one address are checked one after the other and cannot slip past the delay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.errors import TooManyRequests
from identity.models import LoginAttempt, LoginIpThrottle, User
from identity.settings import IdentitySettings

# 2**this is far above any sensible cap; it keeps the arithmetic finite.
_MAX_DOUBLINGS = 40


@dataclass(frozen=True)
class LoginPolicy:
    delay_after: int
    delay_base: timedelta
    delay_max: timedelta
    failure_window: timedelta
    ip_max_failures: int
    ip_window: timedelta
    ip_block: timedelta
    alert_failures: int
    alert_window: timedelta

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> LoginPolicy:
        return cls(
            delay_after=settings.login_delay_after_failures,
            delay_base=timedelta(seconds=settings.login_delay_base_seconds),
            delay_max=timedelta(seconds=settings.login_delay_max_seconds),
            failure_window=timedelta(seconds=settings.login_failure_window_seconds),
            ip_max_failures=settings.login_ip_max_failures,
            ip_window=timedelta(seconds=settings.login_ip_window_seconds),
            ip_block=timedelta(seconds=settings.login_ip_block_seconds),
            alert_failures=settings.login_alert_failures,
            alert_window=timedelta(seconds=settings.login_alert_window_seconds),
        )

    def delay(self, failures: int) -> timedelta | None:
        """The wait after the ``failures``-th failure of a pair: none before the threshold,
        then the base delay, doubling with each further failure, capped."""
        if failures < self.delay_after:
            return None
        doublings = min(failures - self.delay_after, _MAX_DOUBLINGS)
        return min(self.delay_base * 2**doublings, self.delay_max)


def too_many_attempts(until: datetime, now: datetime) -> TooManyRequests:
    """Refused until ``until``: a 429 with Retry-After (and ``retry_after`` in the body)."""
    seconds = max(1, math.ceil((until - now).total_seconds()))
    return TooManyRequests(
        "too_many_attempts",
        "Too many failed sign-in attempts; try again later",
        retry_after=seconds,
        extra={"retry_after": seconds},
    )


# -- per user name and client address ---------------------------------------------------------


async def attempt_for_update(
    session: AsyncSession, *, username: str, ip: str, policy: LoginPolicy, now: datetime
) -> LoginAttempt | None:
    """The pair's failures, locked until the transaction ends; None when it has none that
    still count (a pair is forgotten ``failure_window`` after its last failure)."""
    row = await session.scalar(
        sa.select(LoginAttempt)
        .where(LoginAttempt.username == username, LoginAttempt.ip == ip)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or _stale(row, policy=policy, now=now):
        return None
    return row


def waiting_until(attempt: LoginAttempt | None, now: datetime) -> datetime | None:
    """When the pair may try again, if it must still wait."""
    if attempt is not None and attempt.retry_at is not None and attempt.retry_at > now:
        return attempt.retry_at
    return None


async def record_attempt_failure(
    session: AsyncSession, *, username: str, ip: str, policy: LoginPolicy, now: datetime
) -> datetime | None:
    """Count a failure of the pair; returns when it may try again, if it must wait."""
    await session.execute(
        pg_insert(LoginAttempt)
        .values(username=username, ip=ip, failures=0, last_failed_at=now)
        .on_conflict_do_nothing()
    )
    row = await session.scalar(
        sa.select(LoginAttempt)
        .where(LoginAttempt.username == username, LoginAttempt.ip == ip)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    if _stale(row, policy=policy, now=now):
        row.failures = 0
    row.failures += 1
    row.last_failed_at = now
    delay = policy.delay(row.failures)
    row.retry_at = now + delay if delay else None
    return row.retry_at


async def clear_attempts(session: AsyncSession, *, username: str, ip: str | None = None) -> None:
    """A correct password forgets the pair's failures (``ip`` None: every address's, as
    when an administrator resets the password)."""
    if ip is not None:
        await session.execute(
            sa.delete(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.ip == ip)
        )
        return
    # Callers hold the users row already, while a sign-in in flight holds its pair and then
    # wants that row: its pair is skipped rather than waited for (no deadlock). It keeps its
    # failures; the owner's own addresses are not mid-attempt and are forgotten.
    free = (
        sa.select(LoginAttempt.username, LoginAttempt.ip)
        .where(LoginAttempt.username == username)
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        sa.delete(LoginAttempt).where(sa.tuple_(LoginAttempt.username, LoginAttempt.ip).in_(free))
    )


async def failing_addresses(
    session: AsyncSession, *, username: str, since: datetime, limit: int = 10
) -> list[str]:
    """The addresses that failed for the name since ``since``, the most failures first."""
    rows = await session.scalars(
        sa.select(LoginAttempt.ip)
        .where(LoginAttempt.username == username, LoginAttempt.last_failed_at >= since)
        .order_by(LoginAttempt.failures.desc(), LoginAttempt.ip)
        .limit(limit)
    )
    return list(rows)


def _stale(row: LoginAttempt, *, policy: LoginPolicy, now: datetime) -> bool:
    waiting = row.retry_at is not None and row.retry_at > now
    return not waiting and row.last_failed_at <= now - policy.failure_window


# -- per account (detection only) ---------------------------------------------------------------


def record_account_failure(
    user: User, *, policy: LoginPolicy, now: datetime, retry_at: datetime | None
) -> bool:
    """Count a failure on a locked users row; True when the user and the administrators
    are to be told of an attack now (at most once per alert window)."""
    started = user.failed_login_window_started_at
    if started is None or started <= now - policy.alert_window:
        user.failed_login_window_started_at = now
        user.failed_login_count = 0
    user.failed_login_count += 1
    if retry_at is not None and (user.locked_until is None or user.locked_until < retry_at):
        # Shown to administrators: how long some address is kept waiting for this account.
        user.locked_until = retry_at
    alerted = user.sign_in_alerted_at
    if user.failed_login_count < policy.alert_failures or (
        alerted is not None and alerted > now - policy.alert_window
    ):
        return False
    user.sign_in_alerted_at = now
    return True


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
    """Forget pairs and addresses whose window and wait are both over (keeps tables small)."""
    await session.execute(
        sa.delete(LoginIpThrottle).where(
            LoginIpThrottle.window_started_at < now - policy.ip_window,
            sa.or_(LoginIpThrottle.blocked_until.is_(None), LoginIpThrottle.blocked_until < now),
        )
    )
    await session.execute(
        sa.delete(LoginAttempt).where(
            LoginAttempt.last_failed_at < now - policy.failure_window,
            sa.or_(LoginAttempt.retry_at.is_(None), LoginAttempt.retry_at < now),
        )
    )
