"""What one event's recipients need from the directory, in one round trip (a hot path).

Plain values instead of mapped objects, read with the driver's own SQL
(:func:`helpdesk_common.db.driver_connection`) in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.db import driver_connection


@dataclass(frozen=True, slots=True)
class KnownUser:
    user_id: uuid.UUID
    full_name: str
    email: str | None
    role: str
    is_active: bool
    language: str


@dataclass(frozen=True, slots=True)
class KnownUnit:
    unit_id: uuid.UUID
    name: str
    contact_name: str | None
    contact_email: str | None
    is_active: bool


@dataclass(frozen=True)
class DirectoryExcerpt:
    """The users and the unit an event may concern, as the local directory knows them."""

    users: dict[uuid.UUID, KnownUser]
    unit: KnownUnit | None

    def active_with_roles(self, roles: Iterable[str]) -> list[KnownUser]:
        """Active users holding one of ``roles``, ordered by name."""
        wanted = set(roles)
        found = [u for u in self.users.values() if u.is_active and u.role in wanted]
        # PostgreSQL's ORDER BY full_name, minus collation subtleties: a stable order.
        return sorted(found, key=lambda u: (u.full_name, str(u.user_id)))


# Users by id, every active user with one of the roles, and the units: one statement.
_EXCERPT = """
SELECT true, id, full_name, email, role, is_active, language, NULL::text
  FROM users
 WHERE id = ANY($1::uuid[]) OR (is_active AND role = ANY($2::text[]))
UNION ALL
SELECT false, id, name, contact_email, NULL, is_active, NULL, contact_name
  FROM units
 WHERE id = ANY($3::uuid[])
"""


async def directory_rows(
    session: AsyncSession,
    *,
    user_ids: Iterable[uuid.UUID],
    roles: Iterable[str] = (),
    unit_ids: Iterable[uuid.UUID] = (),
) -> tuple[dict[uuid.UUID, KnownUser], dict[uuid.UUID, KnownUnit]]:
    """Users by id, the active users holding one of ``roles``, and the units ``unit_ids``,
    in one statement (a batch consumer reads what all of its events concern at once)."""
    connection = await driver_connection(session)
    rows = await connection.fetch(
        _EXCERPT, list(set(user_ids)), sorted(set(roles)), list(set(unit_ids))
    )
    users: dict[uuid.UUID, KnownUser] = {}
    units: dict[uuid.UUID, KnownUnit] = {}
    for is_user, key, name, email, role, active, language, contact_name in rows:
        if is_user:
            users[key] = KnownUser(key, name, email, role, active, language)
        else:
            units[key] = KnownUnit(key, name, contact_name, email, active)
    return users, units


async def directory_excerpt(
    session: AsyncSession,
    *,
    user_ids: Iterable[uuid.UUID],
    roles: Iterable[str] = (),
    unit_id: uuid.UUID | None = None,
) -> DirectoryExcerpt:
    """Users by id, the active users holding one of ``roles``, and the unit ``unit_id``."""
    users, units = await directory_rows(
        session, user_ids=user_ids, roles=roles, unit_ids=() if unit_id is None else (unit_id,)
    )
    return DirectoryExcerpt(users=users, unit=units.get(unit_id) if unit_id else None)
