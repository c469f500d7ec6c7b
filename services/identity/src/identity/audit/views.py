"""GET /audit-log, /audit-log/actions and /audit-log/actors: administrators only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from helpdesk_common.auditlog import AuditFiltersDep
from helpdesk_common.auth import require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.pagination import CursorQuery, Page
from identity.audit import service
from identity.audit.schemas import AuditActorOut, AuditEntryOut
from identity.listing import DEFAULT_LIMIT, Limit
from identity.models import AuditEntry

router = APIRouter(tags=["audit"], dependencies=[Depends(require_roles("admin"))])


def _out(entry: AuditEntry, names: service.Names) -> AuditEntryOut:
    out = AuditEntryOut.model_validate(entry)
    out.actor_name = service.actor_name(entry, names)
    out.entity_name = service.entity_name(entry, names)
    out.names = service.field_names(entry, names)
    return out


@router.get("/audit-log")
async def list_audit_log(
    session: SessionDep,
    filters: AuditFiltersDep,
    cursor: CursorQuery = None,
    limit: Limit = DEFAULT_LIMIT,
    entity_type: Annotated[
        str | None,
        Query(
            description="user, unit or organisation",
            json_schema_extra={"enum": list(service.ENTITY_TYPES)},
        ),
    ] = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[AuditEntryOut]:
    """Newest first (then the higher id); pass ``next_cursor`` back as ``cursor``.

    Names come resolved: ``actor_name``, ``entity_name`` and ``names`` (the UUIDs in
    ``before``/``after``), today's where the user or unit exists.
    """
    async with session.begin():
        entries, next_cursor = await service.list_entries(
            session,
            cursor=cursor,
            limit=limit,
            entity_type=entity_type,
            entity_id=entity_id,
            filters=filters,
        )
        names = await service.names_of(session, entries)
    return Page(items=[_out(e, names) for e in entries], next_cursor=next_cursor)


@router.get("/audit-log/actions")
async def list_audit_actions() -> list[str]:
    """Every action this log can hold: the action filter's choices (any other is a 422)."""
    return list(service.ACTIONS)


@router.get("/audit-log/actors")
async def list_audit_actors(session: SessionDep) -> list[AuditActorOut]:
    """IT staff (agents and admins, disabled ones too) by name: the actor filter's choices."""
    async with session.begin():
        users = await service.list_actors(session)
    return [
        AuditActorOut(
            id=u.id, name=u.full_name, username=u.username, role=u.role, is_active=u.is_active
        )
        for u in users
    ]
