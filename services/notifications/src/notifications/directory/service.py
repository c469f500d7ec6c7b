"""Keeping and reading the local directory."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts.identity import UnitSnapshot, UserSnapshot
from helpdesk_common.db import driver_connection
from notifications.directory.models import DirectoryUnit, DirectoryUser


async def upsert_user(session: AsyncSession, *, snapshot: UserSnapshot) -> None:
    """Store a user snapshot unless a newer revision is already held (events may overtake)."""
    values = {
        "user_id": snapshot.user_id,
        "username": snapshot.username,
        "full_name": snapshot.full_name,
        "email": snapshot.email,
        "role": snapshot.role,
        "unit_id": snapshot.unit_id,
        "is_active": snapshot.is_active,
        "language": snapshot.language,
        "revision": snapshot.revision,
        "updated_at": snapshot.updated_at,
    }
    statement = pg_insert(DirectoryUser).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[DirectoryUser.user_id],
            set_={k: statement.excluded[k] for k in values if k != "user_id"},
            where=DirectoryUser.revision < statement.excluded.revision,
        )
    )


async def upsert_unit(session: AsyncSession, *, snapshot: UnitSnapshot) -> None:
    values = {
        "unit_id": snapshot.unit_id,
        "code": snapshot.code,
        "name": snapshot.name,
        "contact_name": snapshot.contact_name,
        "contact_email": snapshot.contact_email,
        "is_active": snapshot.is_active,
        "revision": snapshot.revision,
        "updated_at": snapshot.updated_at,
    }
    statement = pg_insert(DirectoryUnit).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[DirectoryUnit.unit_id],
            set_={k: statement.excluded[k] for k in values if k != "unit_id"},
            where=DirectoryUnit.revision < statement.excluded.revision,
        )
    )


async def users_by_id(
    session: AsyncSession, *, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, DirectoryUser]:
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = await session.scalars(sa.select(DirectoryUser).where(DirectoryUser.user_id.in_(wanted)))
    return {user.user_id: user for user in rows}


# -- what one event's recipients need, in one round trip -------------------------------


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


# Users by id, every active user with one of the roles, and the unit: one statement.
_EXCERPT = """
SELECT true, user_id, full_name, email, role, is_active, language, NULL::text
  FROM directory_users
 WHERE user_id = ANY($1::uuid[]) OR (is_active AND role = ANY($2::text[]))
UNION ALL
SELECT false, unit_id, name, contact_email, NULL, is_active, NULL, contact_name
  FROM directory_units
 WHERE unit_id = $3
"""


async def directory_excerpt(
    session: AsyncSession,
    *,
    user_ids: Iterable[uuid.UUID],
    roles: Iterable[str] = (),
    unit_id: uuid.UUID | None = None,
) -> DirectoryExcerpt:
    connection = await driver_connection(session)
    rows = await connection.fetch(_EXCERPT, list(set(user_ids)), sorted(set(roles)), unit_id)
    users: dict[uuid.UUID, KnownUser] = {}
    unit: KnownUnit | None = None
    for is_user, key, name, email, role, active, language, contact_name in rows:
        if is_user:
            users[key] = KnownUser(key, name, email, role, active, language)
        else:
            unit = KnownUnit(key, name, contact_name, email, active)
    return DirectoryExcerpt(users=users, unit=unit)


async def disabled_user_ids(session: AsyncSession) -> set[uuid.UUID]:
    """Users identity has disabled: their tokens are refused here before they expire."""
    return set(
        await session.scalars(
            sa.select(DirectoryUser.user_id).where(DirectoryUser.is_active.is_(False))
        )
    )
