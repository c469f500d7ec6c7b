"""The audit log of administrative changes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.context import current_correlation_id
from identity.models import AuditEntry
from identity.pagination import PageParams, fetch_page

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
    page: PageParams,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[AuditEntry], int]:
    query = sa.select(AuditEntry).order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
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
    return await fetch_page(session, query, page=page)
