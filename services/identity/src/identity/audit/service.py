"""The audit log of administrative changes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.context import current_correlation_id
from helpdesk_common.pagination import (
    after,
    cursor_datetime,
    cursor_int,
    decode_cursor,
    encode_cursor,
    page_of,
)
from identity.models import AuditEntry

SYSTEM_ACTOR = "system"


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


async def list_entries(
    session: AsyncSession,
    *,
    cursor: str | None,
    limit: int,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[AuditEntry], str | None]:
    """One page, newest first (then the higher id), and the cursor of the next, if any."""
    order = (AuditEntry.occurred_at, AuditEntry.id)
    query = sa.select(AuditEntry).order_by(*(column.desc() for column in order))
    if cursor:
        position = decode_cursor(cursor, listing="audit-log", parse=(cursor_datetime, cursor_int))
        query = query.where(after(order, position, descending=True))
    conditions = {
        AuditEntry.entity_type: entity_type,
        AuditEntry.entity_id: entity_id,
        AuditEntry.actor_id: actor_id,
        AuditEntry.action: action,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEntry.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEntry.occurred_at < until)
    rows = (await session.scalars(query.limit(limit + 1))).all()
    return page_of(
        rows,
        limit=limit,
        cursor_after=lambda e: encode_cursor("audit-log", e.occurred_at, e.id),
    )
