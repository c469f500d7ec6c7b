"""First start: create the first administrator when there is none."""

from __future__ import annotations

import logging
import zlib

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_common.errors import DomainError
from identity.admin import ADMIN_EXISTS, COMPOSE_RESET, LOCAL_RESET
from identity.models import User
from identity.runtime import IdentityRuntime
from identity.settings import IdentitySettings
from identity.users.schemas import UserCreate
from identity.users.service import create_user

log = logging.getLogger("identity.bootstrap")


def _lock_key(schema: str) -> int:
    return zlib.crc32(f"identity-bootstrap:{schema}".encode())


async def ensure_admin(
    sessionmaker: async_sessionmaker[AsyncSession], runtime: IdentityRuntime
) -> bool:
    """Create the bootstrap administrator unless an administrator exists; True if created.

    Replicas starting together take turns on a transaction-scoped advisory lock, so exactly
    one of them creates the account (and publishes its ``user.created``).
    """
    settings = runtime.settings
    async with sessionmaker() as session, session.begin():
        await session.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": _lock_key(settings.schema_name)},
        )
        if await session.scalar(sa.select(User.id).where(User.role == "admin").limit(1)):
            await _check_configured_password(session, runtime)
            return False
        wanted = _bootstrap_user(settings)
        try:
            user, generated = await create_user(
                session,
                passwords=runtime.passwords,
                actor=None,
                fields=wanted.model_dump(exclude={"password"}),
                password=wanted.password,
                # A generated password was printed: it should be replaced at once.
                must_change_password=wanted.password is None,
            )
        except DomainError as exc:
            raise RuntimeError(
                f"cannot create the initial administrator {wanted.username!r}: {exc.message}; "
                "set IDENTITY_BOOTSTRAP_ADMIN_USERNAME to a free username"
            ) from exc
    _announce(user.username, generated)
    return True


async def _check_configured_password(session: AsyncSession, runtime: IdentityRuntime) -> None:
    """Say so when the configured administrator's password does not sign in: the database
    kept an administrator from an earlier start (a second clone, ``.local/`` deleted while
    PostgreSQL kept its data) and whoever reads the password the runner prints would be
    refused with no hint."""
    settings = runtime.settings
    if settings.bootstrap_admin_password is None:
        return  # nothing configured: a generated password was printed once, at creation
    username = settings.bootstrap_admin_username
    user = await session.scalar(
        sa.select(User).where(sa.func.lower(User.username) == username.lower())
    )
    if user is not None and await runtime.passwords.verify(
        user.password_hash, settings.bootstrap_admin_password
    ):
        return
    problem = (
        "its password is not the configured one (IDENTITY_BOOTSTRAP_ADMIN_PASSWORD)"
        if user is not None
        else f"there is no user {username!r}, whose password is configured"
    )
    # One stdout line, as for a created administrator: deploy/local/up.py repeats it in
    # its banner instead of a password that would be refused.
    print(
        f"{ADMIN_EXISTS} {problem}; it was kept from an earlier start. Set a new password "
        f"with {LOCAL_RESET} (local runner) or {COMPOSE_RESET} {username} (Docker Compose).",
        flush=True,
    )
    log.warning(
        "an administrator exists and the configured password does not sign in as %r; "
        "reset it with python -m identity.admin reset-password",
        username,
    )


def _bootstrap_user(settings: IdentitySettings) -> UserCreate:
    """The administrator from the settings, checked like any user an admin would create."""
    try:
        return UserCreate(
            username=settings.bootstrap_admin_username,
            full_name=settings.bootstrap_admin_full_name,
            email=settings.bootstrap_admin_email,
            role="admin",
            password=settings.bootstrap_admin_password,
        )
    except ValidationError as exc:
        raise RuntimeError(f"invalid bootstrap administrator settings: {exc}") from exc


def _announce(username: str, generated: str | None) -> None:
    if generated is None:
        line = f"Initial administrator: username={username} (password from settings)"
    else:
        line = f"Initial administrator: username={username} password={generated}"
    # A plain stdout line (not JSON, not repeated in the log) that an operator can find
    # once and a script can parse; the log only says where to look.
    print(line, flush=True)
    log.warning("initial administrator %r created; its password was printed once", username)
