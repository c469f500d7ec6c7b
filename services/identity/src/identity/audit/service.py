"""The audit log of administrative changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auditlog import AuditFilters, uuid_text
from helpdesk_common.auth import Principal
from helpdesk_common.context import current_correlation_id
from helpdesk_common.contracts.identity import IT_STAFF_ROLES
from helpdesk_common.errors import InvalidInput
from helpdesk_common.pagination import (
    after,
    cursor_datetime,
    cursor_int,
    decode_cursor,
    encode_cursor,
    page_of,
)
from identity.models import AuditEntry, Unit, User

SYSTEM_ACTOR = "system"

# Every action this service writes (tests/test_audit.py checks the code writes no other,
# and that the web client has a label for each); the ``action`` filter accepts only these.
ACTIONS: tuple[str, ...] = (
    "user.created",
    "user.updated",
    "user.enabled",
    "user.disabled",
    "user.password_reset",
    "user.password_changed",
    # Written by the system: many failed sign-ins on the account (auth/throttle.py).
    "user.sign_in_attacked",
    "unit.created",
    "unit.updated",
    "unit.deactivated",
    "organisation.updated",
    "organisation.logo_set",
    "organisation.logo_removed",
)
ENTITY_TYPES: tuple[str, ...] = ("user", "unit", "organisation")


async def record(
    session: AsyncSession,
    *,
    actor: Principal | None,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an entry in the caller's transaction, so it exists exactly when the change does."""
    session.add(
        AuditEntry(
            actor_id=actor.user_id if actor else None,
            actor_name=actor.name if actor else SYSTEM_ACTOR,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before=before,
            after=after,
            request_id=current_correlation_id(),
        )
    )


def check_entity_type(entity_type: str | None) -> None:
    """422 for an entity type that can match nothing (a typo)."""
    if entity_type is not None and entity_type not in ENTITY_TYPES:
        raise InvalidInput(
            "unknown_entity_type",
            f"Unknown entity type {entity_type!r}; one of {', '.join(ENTITY_TYPES)}",
            field="entity_type",
        )


async def list_entries(
    session: AsyncSession,
    *,
    cursor: str | None,
    limit: int,
    entity_type: str | None = None,
    entity_id: str | None = None,
    filters: AuditFilters = AuditFilters(),
) -> tuple[list[AuditEntry], str | None]:
    """One page, newest first (then the higher id), and the cursor of the next, if any."""
    check_entity_type(entity_type)
    filters.check(actions=ACTIONS)
    order = (AuditEntry.occurred_at, AuditEntry.id)
    query = sa.select(AuditEntry).order_by(*(column.desc() for column in order))
    if cursor:
        position = decode_cursor(cursor, listing="audit-log", parse=(cursor_datetime, cursor_int))
        query = query.where(after(order, position, descending=True))
    if entity_type is not None:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    query = filters.apply(
        query,
        at=AuditEntry.occurred_at,
        actor_id=AuditEntry.actor_id,
        action=AuditEntry.action,
    )
    rows = (await session.scalars(query.limit(limit + 1))).all()
    return page_of(
        rows,
        limit=limit,
        cursor_after=lambda e: encode_cursor("audit-log", e.occurred_at, e.id),
    )


# -- names for the ids in a page ------------------------------------------------------------


@dataclass
class Names:
    """Display names of the users and units a page of entries mentions, by id (as text)."""

    users: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    def of(self, value: str) -> str | None:
        return self.users.get(value) or self.units.get(value)


def mentioned_ids(entry: AuditEntry) -> set[str]:
    """The entity, the actor and every UUID-valued field of the snapshots."""
    ids = {str(entry.actor_id)} if entry.actor_id else set()
    if entry.entity_type in ("user", "unit"):
        ids.add(entry.entity_id)
    for snapshot in (entry.before, entry.after):
        for value in (snapshot or {}).values():
            if (text := uuid_text(value)) is not None:
                ids.add(text)
    return ids


def _as_uuids(texts: Iterable[str]) -> list[uuid.UUID]:
    return [uuid.UUID(text) for text in texts if uuid_text(text) is not None]


async def names_of(session: AsyncSession, entries: Sequence[AuditEntry]) -> Names:
    """Today's names of the users and units ``entries`` mention: two queries per page."""
    ids = _as_uuids({i for entry in entries for i in mentioned_ids(entry)})
    names = Names()
    if not ids:
        return names
    users = await session.execute(
        sa.select(User.id, User.full_name, User.username).where(User.id.in_(ids))
    )
    names.users = {str(i): full_name or username for i, full_name, username in users}
    units = await session.execute(sa.select(Unit.id, Unit.name).where(Unit.id.in_(ids)))
    names.units = {str(i): name for i, name in units}
    return names


def recorded_name(entry: AuditEntry) -> str | None:
    """The entity's name as the entry recorded it (kept when the entity is gone)."""
    for snapshot in (entry.after, entry.before):
        for key in ("full_name", "name", "username"):
            value = (snapshot or {}).get(key)
            if isinstance(value, str) and value:
                return value
    return None


def entity_name(entry: AuditEntry, names: Names) -> str | None:
    """Today's name of the entity, else the one recorded; None for the organisation (one)."""
    if entry.entity_type == "organisation":
        return None
    return names.of(entry.entity_id) or recorded_name(entry)


def actor_name(entry: AuditEntry, names: Names) -> str:
    """Today's name of the actor, else the one recorded (the system has no id)."""
    if entry.actor_id is None:
        return entry.actor_name
    return names.users.get(str(entry.actor_id)) or entry.actor_name


def field_names(entry: AuditEntry, names: Names) -> dict[str, str]:
    """Names of the UUIDs in the snapshots (``unit_id`` -> the unit's name), by id; the
    entity's own id (``user_id``) is named by ``entity_name``."""
    out: dict[str, str] = {}
    for snapshot in (entry.before, entry.after):
        for value in (snapshot or {}).values():
            text = uuid_text(value)
            if text is None or text == entry.entity_id:
                continue
            if (name := names.of(text)) is not None:
                out[text] = name
    return out


async def list_actors(session: AsyncSession) -> list[User]:
    """The people who change what this log records: IT staff (agents, admins), by name."""
    query = (
        sa.select(User)
        .where(User.role.in_(IT_STAFF_ROLES))
        .order_by(sa.func.lower(User.full_name), User.id)
    )
    return list((await session.scalars(query)).all())
