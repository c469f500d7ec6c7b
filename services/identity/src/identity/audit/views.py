"""GET /audit-log: administrators only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from helpdesk_common.auth import require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.pagination import CursorQuery, Page
from identity.audit import service
from identity.audit.schemas import AuditEntryOut
from identity.listing import DEFAULT_LIMIT, Limit

router = APIRouter(tags=["audit"], dependencies=[Depends(require_roles("admin"))])


@router.get("/audit-log")
async def list_audit_log(
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: Limit = DEFAULT_LIMIT,
    entity_type: Annotated[str | None, Query(description="user, unit or organisation")] = None,
    entity_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(description="e.g. user.created")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEntryOut]:
    """Newest first (then the higher id); pass ``next_cursor`` back as ``cursor``."""
    async with session.begin():
        entries, next_cursor = await service.list_entries(
            session,
            cursor=cursor,
            limit=limit,
            entity_type=entity_type,
            entity_id=entity_id,
            actor_id=actor_id,
            action=action,
            since=since,
            until=until,
        )
    return Page(items=[AuditEntryOut.model_validate(e) for e in entries], next_cursor=next_cursor)
