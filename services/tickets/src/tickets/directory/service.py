"""Keeping the local copies of units and users, and looking them up."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts.identity import UnitSnapshot, UserSnapshot
from tickets.directory.models import Unit, User


async def upsert_unit(session: AsyncSession, *, snapshot: UnitSnapshot) -> bool:
    """Store the snapshot unless a newer revision is already held; True if stored."""
    values = {
        "id": snapshot.unit_id,
        "code": snapshot.code,
        "name": snapshot.name,
        "contact_name": snapshot.contact_name,
        "contact_email": snapshot.contact_email,
        "is_active": snapshot.is_active,
        "revision": snapshot.revision,
        "updated_at": snapshot.updated_at,
    }
    statement = pg_insert(Unit).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[Unit.id],
        set_={k: statement.excluded[k] for k in values if k != "id"},
        # Events may arrive out of order: an older snapshot never overwrites a newer one.
        where=Unit.revision < statement.excluded.revision,
    ).returning(Unit.id)
    return (await session.execute(statement)).first() is not None


async def upsert_user(session: AsyncSession, *, snapshot: UserSnapshot) -> bool:
    values = {
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
    statement = pg_insert(User).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[User.id],
        set_={k: statement.excluded[k] for k in values if k != "id"},
        where=User.revision < statement.excluded.revision,
    ).returning(User.id)
    return (await session.execute(statement)).first() is not None


async def list_units(session: AsyncSession, *, include_inactive: bool = False) -> list[Unit]:
    query = sa.select(Unit).order_by(Unit.name)
    if not include_inactive:
        query = query.where(Unit.is_active)
    return list((await session.scalars(query)).all())


async def list_agents(session: AsyncSession) -> list[User]:
    return list(
        (
            await session.scalars(
                sa.select(User).where(User.role == "agent", User.is_active).order_by(User.full_name)
            )
        ).all()
    )


async def disabled_user_ids(session: AsyncSession) -> set[uuid.UUID]:
    """Users identity has disabled: their tokens are refused here before they expire."""
    return set(await session.scalars(sa.select(User.id).where(User.is_active.is_(False))))
