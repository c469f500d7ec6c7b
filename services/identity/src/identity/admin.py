"""Operators' commands, run beside the service with its settings (``IDENTITY_*``):

    python -m identity.admin reset-password [USERNAME] [--password-stdin] [--save-to FILE]

Sets a new password for a user (the first administrator by default,
``IDENTITY_BOOTSTRAP_ADMIN_USERNAME``): the one read from standard input, else a generated
one that is printed. The reset is in the audit log (actor "system"), ends every session of the
user (refresh tokens revoked) and clears sign-in delays. With ``--save-to`` the password is
also written to that file (mode 600) once the reset is committed: the local runner keeps the
administrator's password in ``.local/admin-password`` (``scripts/reset-admin-password``).

For the case identity's start-up reports: an administrator already exists, and the password
an operator has (``.local/admin-password``, ``ADMIN_PASSWORD``) is not its password.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.db import create_engine, create_sessionmaker
from identity.models import User
from identity.passwords import Passwords, generate_password
from identity.settings import IdentitySettings
from identity.users.schemas import ResetPassword
from identity.users.service import set_password

# What identity prints at start-up when the configured password is not the administrator's
# (deploy/local/up.py looks for it to say so in its banner).
ADMIN_EXISTS = "Administrator already exists:"
LOCAL_RESET = "scripts/reset-admin-password"
COMPOSE_RESET = "docker compose exec identity python -m identity.admin reset-password"


class UnknownUser(LookupError):
    """No user by that name."""


async def reset_password(
    session: AsyncSession,
    *,
    passwords: Passwords,
    username: str,
    new_password: str | None,
    keep: bool = False,
) -> tuple[User, str]:
    """Set the user's password (generated when none is given) in the caller's transaction;
    returns the user and the password. A generated password must be changed at the next
    sign-in unless it is kept somewhere (``keep``: the local runner's file)."""
    user = await session.scalar(
        sa.select(User).where(sa.func.lower(User.username) == username.lower()).with_for_update()
    )
    if user is None:
        raise UnknownUser(username)
    password = new_password or generate_password()
    await set_password(
        session,
        passwords=passwords,
        actor=None,
        user=user,
        password=password,
        must_change=new_password is None and not keep,
        generated=new_password is None,
    )
    return user, password


def _checked(password: str) -> str:
    """The password held to the rules of an administrator's reset (length, characters)."""
    try:
        checked = ResetPassword(new_password=password).new_password
    except ValidationError as exc:
        messages = "; ".join(error["msg"] for error in exc.errors())
        raise SystemExit(f"the new password is refused: {messages}") from exc
    assert checked is not None
    return checked


async def _reset(args: argparse.Namespace, settings: IdentitySettings) -> tuple[str, str]:
    """The reset, committed (then the password saved, if asked): the username and password."""
    engine = create_engine(settings, pooled=False)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            user, password = await reset_password(
                session,
                passwords=Passwords.from_settings(settings),
                username=args.username or settings.bootstrap_admin_username,
                new_password=args.new_password,
                keep=args.save_to is not None,
            )
    finally:
        await engine.dispose()
    if args.save_to is not None:
        args.save_to.parent.mkdir(parents=True, exist_ok=True)
        args.save_to.touch(mode=0o600)
        args.save_to.chmod(0o600)
        args.save_to.write_text(password)
    return user.username, password


def main(argv: list[str] | None = None, *, stdin: TextIO = sys.stdin) -> int:
    parser = argparse.ArgumentParser(prog="python -m identity.admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    reset = commands.add_parser("reset-password", help="set a new password for a user")
    reset.add_argument("username", nargs="?", help="default: the first administrator's")
    reset.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the new password from standard input (else one is generated and printed)",
    )
    reset.add_argument("--save-to", type=Path, help="also write the password to this file")
    args = parser.parse_args(argv)
    args.new_password = _checked(stdin.readline().strip()) if args.password_stdin else None
    try:
        username, password = asyncio.run(_reset(args, IdentitySettings()))
    except UnknownUser as exc:
        print(f"no user named {exc.args[0]!r}", file=sys.stderr)
        return 1
    if args.new_password is not None:
        print(f"Password reset: username={username}")
    elif args.save_to is not None:
        print(f"Password reset: username={username}; the password is in {args.save_to}")
    else:
        # Printed once, like the first administrator's; it must be changed at sign-in.
        print(f"Password reset: username={username} password={password}")
    print("Every session of the user has ended (signed out everywhere).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
