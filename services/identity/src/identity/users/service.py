"""Users: create, change, (de)activate, reset passwords, list.

Every change that alters a user's snapshot bumps its revision, publishes the snapshot
through the outbox and writes an audit entry, all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import UserCreated, UserDeactivated, UserUpdated
from helpdesk_common.errors import Conflict, InvalidInput, NotFound
from helpdesk_common.pagination import (
    after,
    cursor_text,
    cursor_uuid,
    decode_cursor,
    encode_cursor,
    page_of,
)
from helpdesk_common.standing import StandingSource
from identity.audit.service import record
from identity.auth import refresh, throttle
from identity.errors import flush_or_conflict
from identity.events import publish_user, user_json
from identity.listing import contains
from identity.models import Unit, User, utcnow
from identity.passwords import Passwords, generate_password


async def get_user(session: AsyncSession, *, user_id: uuid.UUID, for_update: bool = False) -> User:
    query = sa.select(User).where(User.id == user_id)
    if for_update:
        # Serialises concurrent changes so that revisions strictly increase.
        query = query.with_for_update()
    user = await session.scalar(query)
    if user is None:
        raise NotFound("user_not_found", "No such user")
    return user


async def check_unit(
    session: AsyncSession, *, role: str, unit_id: uuid.UUID | None, unit_changed: bool
) -> None:
    """A requester needs a unit; a newly assigned unit must exist and be active."""
    if role == "requester" and unit_id is None:
        raise InvalidInput("unit_required", "A requester must belong to a unit", field="unit_id")
    if unit_id is None or not unit_changed:
        return
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise InvalidInput("unknown_unit", "No unit with this id", field="unit_id")
    if not unit.is_active:
        raise InvalidInput("inactive_unit", "This unit is deactivated", field="unit_id")


async def _ensure_other_admin(session: AsyncSession, *, user: User) -> None:
    """Refuse to demote or disable the last active administrator: nobody could fix it."""
    if user.role != "admin" or not user.is_active:
        return
    others = await session.scalar(
        sa.select(sa.func.count())
        .select_from(User)
        .where(User.role == "admin", User.is_active.is_(True), User.id != user.id)
    )
    if not others:
        raise Conflict("last_admin", "This is the last active administrator")


async def create_user(
    session: AsyncSession,
    *,
    passwords: Passwords,
    actor: Principal | None,
    fields: dict[str, Any],
    password: str | None,
    must_change_password: bool = True,
) -> tuple[User, str | None]:
    """Create a user; returns it and the generated password when none was given."""
    await check_unit(session, role=fields["role"], unit_id=fields.get("unit_id"), unit_changed=True)
    generated = None if password else generate_password()
    now = utcnow()
    user = User(
        id=uuid.uuid4(),
        password_hash=await passwords.hash(password or generated or ""),
        must_change_password=must_change_password,
        password_changed_at=now,
        is_active=True,
        failed_login_count=0,
        revision=1,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(user)
    await flush_or_conflict(session)
    await publish_user(session, user, event=UserCreated)
    await record(
        session,
        actor=actor,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        after=user_json(user),
    )
    return user, generated


async def apply_changes(
    session: AsyncSession, *, actor: Principal | None, user: User, changes: dict[str, Any]
) -> User:
    """Change snapshot fields of a locked user row; publishes and audits if anything changed.

    ``actor`` None means the user changed their own profile: published, not audited.
    """
    changed = {k: v for k, v in changes.items() if getattr(user, k) != v}
    if not changed:
        return user
    if "role" in changed or "unit_id" in changed:
        role = changed.get("role", user.role)
        if role != "admin":
            await _ensure_other_admin(session, user=user)
        unit_id = changed.get("unit_id", user.unit_id)
        await check_unit(session, role=role, unit_id=unit_id, unit_changed="unit_id" in changed)
    before = user_json(user)
    for key, value in changed.items():
        setattr(user, key, value)
    user.revision += 1
    user.updated_at = utcnow()
    await flush_or_conflict(session)
    await publish_user(session, user, event=UserUpdated)
    if actor is not None:
        await record(
            session,
            actor=actor,
            action="user.updated",
            entity_type="user",
            entity_id=user.id,
            before=before,
            after=user_json(user),
        )
    return user


async def update_user(
    session: AsyncSession, *, actor: Principal, user_id: uuid.UUID, changes: dict[str, Any]
) -> User:
    user = await get_user(session, user_id=user_id, for_update=True)
    return await apply_changes(session, actor=actor, user=user, changes=changes)


async def set_active(
    session: AsyncSession, *, actor: Principal, user_id: uuid.UUID, active: bool
) -> User:
    """Enable or disable an account; disabling also ends all its sessions."""
    user = await get_user(session, user_id=user_id, for_update=True)
    if user.is_active == active:
        return user
    if not active:
        if user.id == actor.user_id:
            raise Conflict("cannot_disable_self", "You cannot disable your own account")
        await _ensure_other_admin(session, user=user)
        await refresh.revoke_user(session, user_id=user.id, reason="user_disabled")
    before = user_json(user)
    user.is_active = active
    # A re-enabled account starts with a clean slate rather than stale sign-in delays.
    throttle.clear_account_failures(user)
    await throttle.clear_attempts(session, username=user.username.lower())
    user.revision += 1
    user.updated_at = utcnow()
    await publish_user(session, user, event=UserUpdated if active else UserDeactivated)
    await record(
        session,
        actor=actor,
        action="user.enabled" if active else "user.disabled",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after=user_json(user),
    )
    return user


async def reset_password(
    session: AsyncSession,
    *,
    passwords: Passwords,
    actor: Principal,
    user_id: uuid.UUID,
    new_password: str | None,
) -> tuple[User, str | None]:
    """Set a new password chosen by an administrator (or generated); ends all sessions."""
    user = await get_user(session, user_id=user_id, for_update=True)
    generated = None if new_password else generate_password()
    await set_password(
        session,
        passwords=passwords,
        actor=actor,
        user=user,
        password=new_password or generated or "",
        must_change=True,
        generated=generated is not None,
    )
    return user, generated


async def set_password(
    session: AsyncSession,
    *,
    passwords: Passwords,
    actor: Principal | None,
    user: User,
    password: str,
    must_change: bool,
    generated: bool,
) -> None:
    """A password reset of a locked ``user`` (by an administrator, or by the command line
    when ``actor`` is None): ends all sessions, audited."""
    user.password_hash = await passwords.hash(password)
    user.must_change_password = must_change
    user.password_changed_at = utcnow()
    # The new password is not slowed by delays earned by guesses at the old one (from any
    # address: the sign-in delays of auth/throttle.py are per name and address).
    throttle.clear_account_failures(user)
    await throttle.clear_attempts(session, username=user.username.lower())
    await refresh.revoke_user(session, user_id=user.id, reason="password_reset")
    await record(
        session,
        actor=actor,
        action="user.password_reset",
        entity_type="user",
        entity_id=user.id,
        after={"must_change_password": must_change, "generated": generated},
    )


async def list_users(
    session: AsyncSession,
    *,
    cursor: str | None,
    limit: int,
    role: str | None = None,
    unit_id: uuid.UUID | None = None,
    is_active: bool | None = None,
    q: str | None = None,
) -> tuple[list[User], str | None]:
    """One page ordered by full name (then id) and the cursor of the next, if any."""
    order = (User.full_name, User.id)
    query = sa.select(User).order_by(*order)
    if cursor:
        position = decode_cursor(cursor, listing="users", parse=(cursor_text, cursor_uuid))
        query = query.where(after(order, position, descending=False))
    if role is not None:
        query = query.where(User.role == role)
    if unit_id is not None:
        query = query.where(User.unit_id == unit_id)
    if is_active is not None:
        query = query.where(User.is_active == is_active)
    if q:
        query = query.where(
            sa.or_(contains(User.username, q), contains(User.full_name, q), contains(User.email, q))
        )
    rows = (await session.scalars(query.limit(limit + 1))).all()
    return page_of(
        rows, limit=limit, cursor_after=lambda u: encode_cursor("users", u.full_name, u.id)
    )


# Whose access tokens still count (helpdesk_common.standing): a disabled user's, or one
# from before a role or unit change, are refused before they expire; ``publish_user``
# announces each change.
user_standing = StandingSource(User.__tablename__)
