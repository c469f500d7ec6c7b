"""Keeping the directory current from identity's snapshots, and the lookups services share.

Like every service function: keyword-only arguments, the caller's session, no commit.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from helpdesk_common import standing
from helpdesk_common.contracts.identity import (
    OrganisationUpdated,
    Role,
    UnitSnapshot,
    UserSnapshot,
)
from helpdesk_common.directory.models import DirectoryOrganisation, DirectoryUnit, DirectoryUser


async def _upsert(
    session: AsyncSession,
    model: type[DirectoryUnit] | type[DirectoryUser] | type[DirectoryOrganisation],
    key: InstrumentedAttribute[uuid.UUID] | InstrumentedAttribute[int],
    revision: InstrumentedAttribute[int],
    values: dict[str, object],
) -> bool:
    insert = pg_insert(model).values(**values)
    upsert = insert.on_conflict_do_update(
        index_elements=[key],
        set_={name: insert.excluded[name] for name in values if name != "id"},
        # Events may overtake each other, and come again: only a newer revision is stored.
        where=revision < insert.excluded.revision,
    ).returning(key)
    return (await session.execute(upsert)).first() is not None


async def upsert_user(session: AsyncSession, *, snapshot: UserSnapshot) -> bool:
    """Store the snapshot unless the same or a newer revision is held; True if stored."""
    values: dict[str, object] = {
        "id": snapshot.user_id,
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
    stored = await _upsert(session, DirectoryUser, DirectoryUser.id, DirectoryUser.revision, values)
    if stored:
        # Every process of this service re-reads the user's standing at the commit.
        await standing.announce(session, snapshot.user_id)
    return stored


async def upsert_unit(session: AsyncSession, *, snapshot: UnitSnapshot) -> bool:
    """Store the snapshot unless the same or a newer revision is held; True if stored."""
    values: dict[str, object] = {
        "id": snapshot.unit_id,
        "code": snapshot.code,
        "name": snapshot.name,
        "contact_name": snapshot.contact_name,
        "contact_email": snapshot.contact_email,
        "is_active": snapshot.is_active,
        "revision": snapshot.revision,
        "updated_at": snapshot.updated_at,
    }
    return await _upsert(session, DirectoryUnit, DirectoryUnit.id, DirectoryUnit.revision, values)


async def upsert_organisation(session: AsyncSession, *, snapshot: OrganisationUpdated) -> bool:
    """Store the organisation's identity unless the same or a newer revision is held."""
    values: dict[str, object] = {
        "id": 1,
        "name": snapshot.name,
        "parent_name": snapshot.parent_name,
        "address": snapshot.address,
        "phone": snapshot.phone,
        "email": snapshot.email,
        "website": snapshot.website,
        "logo": base64.b64decode(snapshot.logo_base64) if snapshot.logo_base64 else None,
        "logo_media_type": snapshot.logo_media_type if snapshot.logo_base64 else None,
        "revision": snapshot.revision,
        "updated_at": snapshot.updated_at,
    }
    return await _upsert(
        session,
        DirectoryOrganisation,
        DirectoryOrganisation.id,
        DirectoryOrganisation.revision,
        values,
    )


async def organisation(session: AsyncSession) -> DirectoryOrganisation | None:
    """The organisation's identity, or None until an administrator has set it."""
    return await session.get(DirectoryOrganisation, 1)


# Whose tokens still count, read from the replica (``create_service_app(user_standing=...)``;
# helpdesk_common.standing): ``upsert_user`` announces each stored change.
directory_standing = standing.StandingSource(DirectoryUser.__tablename__)


async def users_by_id(
    session: AsyncSession, *, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, DirectoryUser]:
    """The known users among ``user_ids`` (active or not), by id."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = await session.scalars(sa.select(DirectoryUser).where(DirectoryUser.id.in_(wanted)))
    return {user.id: user for user in rows}


async def active_users(session: AsyncSession, *, roles: Iterable[Role]) -> list[DirectoryUser]:
    """Active users holding one of ``roles``, ordered by name (e.g. the assignee picker)."""
    query = (
        sa.select(DirectoryUser)
        .where(DirectoryUser.role.in_(set(roles)), DirectoryUser.is_active)
        .order_by(DirectoryUser.full_name, DirectoryUser.id)
    )
    return list((await session.scalars(query)).all())


async def list_units(
    session: AsyncSession, *, include_inactive: bool = False
) -> list[DirectoryUnit]:
    """Units ordered by name; only active ones unless ``include_inactive``."""
    query = sa.select(DirectoryUnit).order_by(DirectoryUnit.name, DirectoryUnit.id)
    if not include_inactive:
        query = query.where(DirectoryUnit.is_active)
    return list((await session.scalars(query)).all())
