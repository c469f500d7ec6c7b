"""Sign-in, token refresh, sign-out and the signed-in user's own account.

Steps that fail but must still change state (a failure counter, a revoked token family)
return an :class:`AuthResult` carrying the error instead of raising it: the route commits
first and raises afterwards, so the rejection is recorded rather than rolled back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import UserSignInAttacked
from helpdesk_common.errors import DomainError, InvalidInput, PermissionDenied, Unauthenticated
from helpdesk_common.outbox import add_event
from identity.audit.service import record
from identity.auth import refresh, throttle
from identity.auth.refresh import ClientInfo
from identity.auth.schemas import MeOut, UnitBrief
from identity.events import PRODUCER
from identity.models import Unit, User, utcnow
from identity.runtime import IdentityRuntime
from identity.users.service import apply_changes

log = logging.getLogger("identity.auth")


@dataclass
class AuthResult:
    user: User | None = None
    refresh_token: str | None = None
    error: DomainError | None = None

    def unwrap(self) -> tuple[User, str]:
        """The user and their new refresh token; raises the recorded error, if any."""
        if self.error is not None:
            raise self.error
        assert self.user is not None and self.refresh_token is not None
        return self.user, self.refresh_token


def invalid_credentials() -> Unauthenticated:
    # One message for an unknown user and a wrong password: no account enumeration.
    return Unauthenticated("invalid_credentials", "Wrong username or password")


def invalid_refresh_token(code: str = "invalid_refresh_token") -> Unauthenticated:
    return Unauthenticated(code, "The refresh token is not valid; please sign in again")


def account_disabled(message: str = "This account is disabled") -> Unauthenticated:
    return Unauthenticated("account_disabled", message)


async def login(
    session: AsyncSession,
    *,
    runtime: IdentityRuntime,
    username: str,
    password: str,
    client: ClientInfo,
) -> AuthResult:
    """Sign in. A known and an unknown name are answered alike in every state: the
    throttle's key is the name as typed, and an unknown name's password is checked against
    a dummy hash (identity.passwords), so neither the answers nor their timing tell."""
    now = runtime.clock()
    policy = runtime.policy
    ip = client.ip or "unknown"
    name = username.strip().lower()
    if blocked := await throttle.ip_blocked_until(session, ip=ip, now=now):
        return AuthResult(error=throttle.too_many_attempts(blocked, now))
    attempt = await throttle.attempt_for_update(
        session, username=name, ip=ip, policy=policy, now=now
    )
    # A pair still waiting is refused before the password is even checked, so guessing
    # during the delay learns nothing.
    if wait := throttle.waiting_until(attempt, now):
        return AuthResult(error=throttle.too_many_attempts(wait, now))
    # Not locked while the (slow) password check runs: attempts from other addresses must
    # never queue behind an attacker's.
    user = await session.scalar(sa.select(User).where(sa.func.lower(User.username) == name))
    if not await runtime.passwords.verify(user.password_hash if user else None, password):
        await _failed_attempt(session, runtime, user=user, name=name, ip=ip, now=now)
        await throttle.record_ip_failure(session, ip=ip, policy=policy, now=now)
        return AuthResult(error=invalid_credentials())
    assert user is not None
    user = await _locked(session, user)
    if not user.is_active:
        return AuthResult(error=PermissionDenied("account_disabled", "This account is disabled"))
    if attempt is not None:
        await throttle.clear_attempts(session, username=name, ip=ip)
    user.last_login_at = now
    if runtime.passwords.needs_rehash(user.password_hash):
        # The only moment the clear password is at hand: upgrade to the current parameters.
        user.password_hash = await runtime.passwords.hash(password)
    token = await refresh.issue(session, tokens=runtime.tokens, user_id=user.id, client=client)
    return AuthResult(user=user, refresh_token=token)


async def _locked(session: AsyncSession, user: User) -> User:
    """The user's row again, locked until the transaction ends."""
    locked = await session.scalar(
        sa.select(User)
        .where(User.id == user.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    return locked


async def _failed_attempt(
    session: AsyncSession,
    runtime: IdentityRuntime,
    *,
    user: User | None,
    name: str,
    ip: str,
    now: datetime,
) -> None:
    """Count a wrong password for the name from ``ip`` (and on the account, if it exists);
    tell the user and the administrators when the account is under attack."""
    policy = runtime.policy
    retry_at = await throttle.record_attempt_failure(
        session, username=name, ip=ip, policy=policy, now=now
    )
    if user is None:
        return
    user = await _locked(session, user)
    if throttle.record_account_failure(user, policy=policy, now=now, retry_at=retry_at):
        await _report_attack(session, user=user, name=name, now=now)


async def _report_attack(session: AsyncSession, *, user: User, name: str, now: datetime) -> None:
    """The audit log entry and the event (in-app notices to the user and administrators,
    by the notifications service), in the transaction that counted the failure."""
    started = user.failed_login_window_started_at or now
    addresses = await throttle.failing_addresses(session, username=name, since=started)
    log.warning(
        "sign-in attack on user %s: %d failures from %d or more addresses since %s",
        user.id,
        user.failed_login_count,
        len(addresses),
        started.isoformat(),
    )
    await record(
        session,
        actor=None,
        action="user.sign_in_attacked",
        entity_type="user",
        entity_id=user.id,
        after={
            "failures": user.failed_login_count,
            "since": started.isoformat(),
            "addresses": addresses,
        },
    )
    await add_event(
        session,
        UserSignInAttacked(
            user_id=user.id,
            username=user.username,
            failures=user.failed_login_count,
            addresses=len(addresses),
            window_started_at=started,
            detected_at=now,
        ),
        producer=PRODUCER,
    )


async def rotate(
    session: AsyncSession, *, runtime: IdentityRuntime, token: str, client: ClientInfo
) -> AuthResult:
    """Use a refresh token up and issue its successor in the same family."""
    now = utcnow()
    row = await refresh.find_for_update(session, token=token)
    if row is None or row.revoked_at is not None:
        return AuthResult(error=invalid_refresh_token())
    if row.rotated_at is not None:
        # Only one party can hold the latest token: an old one coming back means it was
        # copied. End the whole session, the thief's and the owner's alike.
        log.warning("refresh token reused for user %s: revoking its session", row.user_id)
        await refresh.revoke_family(session, family_id=row.family_id, reason="reuse_detected")
        return AuthResult(error=invalid_refresh_token("refresh_token_reused"))
    if row.expires_at <= now:
        return AuthResult(error=invalid_refresh_token("refresh_token_expired"))
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        await refresh.revoke_family(session, family_id=row.family_id, reason="user_disabled")
        return AuthResult(error=account_disabled())
    row.rotated_at = now
    new = await refresh.issue(
        session, tokens=runtime.tokens, user_id=user.id, client=client, family_id=row.family_id
    )
    return AuthResult(user=user, refresh_token=new)


async def logout(session: AsyncSession, *, token: str) -> None:
    """End the session the token belongs to; an unknown token is silently ignored."""
    row = await refresh.find_for_update(session, token=token)
    if row is not None:
        await refresh.revoke_family(session, family_id=row.family_id, reason="logout")


async def current_user(
    session: AsyncSession, *, principal: Principal, for_update: bool = False
) -> User:
    """The caller's row; a token outliving its account's deactivation is refused."""
    query = sa.select(User).where(User.id == principal.user_id)
    if for_update:
        query = query.with_for_update()
    user = await session.scalar(query)
    if user is None or not user.is_active:
        raise account_disabled("This account no longer exists or is disabled")
    return user


async def profile(session: AsyncSession, *, user: User) -> MeOut:
    unit = await session.get(Unit, user.unit_id) if user.unit_id else None
    return MeOut.model_validate(user).model_copy(
        update={"unit": UnitBrief.model_validate(unit) if unit else None}
    )


async def update_profile(
    session: AsyncSession, *, principal: Principal, changes: dict[str, Any]
) -> User:
    user = await current_user(session, principal=principal, for_update=True)
    return await apply_changes(session, actor=None, user=user, changes=changes)


async def change_password(
    session: AsyncSession,
    *,
    runtime: IdentityRuntime,
    principal: Principal,
    current_password: str,
    new_password: str,
    client: ClientInfo,
) -> AuthResult:
    """Replace the password; every other session ends and this one gets a fresh pair."""
    now = runtime.clock()
    user = await current_user(session, principal=principal)
    # Counted like a failed sign-in from the caller's address: a stolen access token must
    # not allow guessing the password (and the owner's other addresses are not slowed).
    name = user.username.lower()
    ip = client.ip or "unknown"
    attempt = await throttle.attempt_for_update(
        session, username=name, ip=ip, policy=runtime.policy, now=now
    )
    # Locked after the pair, in the order sign-in takes them (no deadlock between the two).
    user = await _locked(session, user)
    if wait := throttle.waiting_until(attempt, now):
        return AuthResult(error=throttle.too_many_attempts(wait, now))
    if not await runtime.passwords.verify(user.password_hash, current_password):
        await _failed_attempt(session, runtime, user=user, name=name, ip=ip, now=now)
        # A domain error of no specific kind: the edge answers 400.
        wrong = DomainError(
            "wrong_password", "The current password is not correct", field="current_password"
        )
        return AuthResult(error=wrong)
    if new_password == current_password:
        same = InvalidInput(
            "password_unchanged", "Choose a password you do not use now", field="new_password"
        )
        return AuthResult(error=same)
    user.password_hash = await runtime.passwords.hash(new_password)
    user.must_change_password = False
    user.password_changed_at = now
    throttle.clear_account_failures(user)
    await throttle.clear_attempts(session, username=name)
    # Revoke before issuing: the new token must survive the revocation.
    await refresh.revoke_user(session, user_id=user.id, reason="password_changed")
    token = await refresh.issue(session, tokens=runtime.tokens, user_id=user.id, client=client)
    await record(
        session,
        actor=principal,
        action="user.password_changed",
        entity_type="user",
        entity_id=user.id,
    )
    return AuthResult(user=user, refresh_token=token)
