"""Turning database constraint violations into domain errors (409 at the edge)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.errors import Conflict

# Unique index -> (code, field, message) of the Conflict a violation becomes.
UNIQUE_CONFLICTS = {
    "uq_users_username_ci": ("username_taken", "username", "This username is already in use"),
    "uq_users_email_ci": ("email_taken", "email", "This e-mail address is already in use"),
    "uq_units_code_ci": ("unit_code_taken", "code", "A unit with this code already exists"),
}


def constraint_name(exc: IntegrityError) -> str | None:
    cause = getattr(exc.orig, "__cause__", None)  # the asyncpg exception
    name = getattr(cause, "constraint_name", None)
    if name:
        return str(name)
    text = str(exc.orig)
    return next((known for known in UNIQUE_CONFLICTS if known in text), None)


def conflict_from(exc: IntegrityError) -> Conflict | None:
    """The conflict for a known unique violation; None for anything else (a bug: re-raise)."""
    known = UNIQUE_CONFLICTS.get(constraint_name(exc) or "")
    if known is None:
        return None
    code, field, message = known
    return Conflict(code, message, field=field)


async def flush_or_conflict(session: AsyncSession) -> None:
    """Flush pending changes; a duplicate username, e-mail or unit code becomes a
    :class:`Conflict`.

    The unique indexes decide (not a look-up beforehand), so two concurrent requests for
    the same name cannot both succeed.
    """
    try:
        await session.flush()
    except IntegrityError as exc:
        conflict = conflict_from(exc)
        if conflict is None:
            raise
        raise conflict from exc
