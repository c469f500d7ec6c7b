"""Reading the master-data audit log: filters, and names in place of ids and codes.

Entries are written by ``tickets.masterdata.service.audit`` (and the export policy); this
module lists them and resolves, per page, the names an administrator reads: the actor's,
the entity's and those of the ids and priority codes in ``before``/``after``, from this
service's own data (its master data and its directory replica of users and units).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auditlog import AuditFilters, uuid_text
from helpdesk_common.directory import DirectoryUnit, DirectoryUser
from helpdesk_common.pagination import cursor_int4, decode_cursor, encode_cursor, page_of
from tickets.masterdata.models import AuditEntry, Category, Holiday, Priority, PriorityRule

AUDIT_LISTING = "tickets-audit"

# Every action written to this log (tests/test_masterdata_audit.py checks the code writes no
# other, and that the web client has a label for each); the ``action`` filter accepts these.
ACTIONS: tuple[str, ...] = (
    "priority.created",
    "priority.updated",
    "sla_policy.created",
    "sla_policy.updated",
    "category.created",
    "category.updated",
    "office_hours.replaced",
    "holiday.created",
    "holiday.deleted",
    "priority_rule.created",
    "priority_rule.updated",
    "priority_rule.deleted",
    "export_policy.updated",
)
# Fields whose values are priority codes: their names go in ``names`` too.
PRIORITY_FIELDS = frozenset({"priority", "default_priority"})


def entity_type_of(action: str) -> str:
    """``category.updated`` -> ``category``."""
    return action.partition(".")[0]


async def list_audit(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    filters: AuditFilters = AuditFilters(),
) -> tuple[list[AuditEntry], str | None]:
    """The master-data audit log, newest first: one page and the cursor of the next."""
    filters.check(actions=ACTIONS)
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if cursor is not None:
        (after_id,) = decode_cursor(cursor, listing=AUDIT_LISTING, parse=(cursor_int4,))
        query = query.where(AuditEntry.id < after_id)
    query = filters.apply(
        query, at=AuditEntry.at, actor_id=AuditEntry.actor_id, action=AuditEntry.action
    )
    rows = list((await session.scalars(query)).all())
    return page_of(rows, limit=limit, cursor_after=lambda e: encode_cursor(AUDIT_LISTING, e.id))


# -- names ----------------------------------------------------------------------------------


def _snapshots(entry: AuditEntry) -> Iterable[dict[str, Any]]:
    return (s for s in (entry.before, entry.after) if s)


@dataclass
class Names:
    """Today's names of what a page mentions: ids (as text) and priority codes."""

    users: dict[str, str] = field(default_factory=dict)
    by_id: dict[str, str] = field(default_factory=dict)
    priorities: dict[str, str] = field(default_factory=dict)
    rules: dict[str, PriorityRule] = field(default_factory=dict)


def _mentions(entries: Sequence[AuditEntry]) -> tuple[set[uuid.UUID], set[str]]:
    """The ids (actors, entities, UUID values) and priority codes the entries mention."""
    ids: set[uuid.UUID] = set()
    codes: set[str] = set()
    for entry in entries:
        if entry.actor_id is not None:
            ids.add(entry.actor_id)
        if (entity := uuid_text(entry.entity_id)) is not None:
            ids.add(uuid.UUID(entity))
        if entity_type_of(entry.action) in ("priority", "sla_policy"):
            codes.add(entry.entity_id)
        for snapshot in _snapshots(entry):
            for key, value in snapshot.items():
                if (text := uuid_text(value)) is not None:
                    ids.add(uuid.UUID(text))
                elif key in PRIORITY_FIELDS and isinstance(value, str):
                    codes.add(value)
    return ids, codes


async def names_of(session: AsyncSession, entries: Sequence[AuditEntry]) -> Names:
    """One query per kind of thing for the whole page."""
    ids, codes = _mentions(entries)
    names = Names()
    if ids:
        rules = await session.scalars(sa.select(PriorityRule).where(PriorityRule.id.in_(ids)))
        names.rules = {str(rule.id): rule for rule in rules}
        # A rule is described by its conditions' names and its priority's.
        for rule in names.rules.values():
            ids |= {ref for ref in (rule.unit_id, rule.category_id) if ref is not None}
            codes.add(rule.priority)
        users = await session.execute(
            sa.select(DirectoryUser.id, DirectoryUser.full_name, DirectoryUser.username).where(
                DirectoryUser.id.in_(ids)
            )
        )
        names.users = {str(i): full or username for i, full, username in users}
        for model in (DirectoryUnit, Category, Holiday):
            rows = await session.execute(sa.select(model.id, model.name).where(model.id.in_(ids)))
            names.by_id.update({str(i): name for i, name in rows})
    if codes:
        priorities = await session.execute(
            sa.select(Priority.code, Priority.name).where(Priority.code.in_(codes))
        )
        names.priorities = {code: name for code, name in priorities}
    return names


def _recorded(entry: AuditEntry, key: str) -> Any:
    for snapshot in (entry.after, entry.before):
        if snapshot and snapshot.get(key) is not None:
            return snapshot[key]
    return None


def _rule_text(fields: dict[str, Any], names: Names) -> str:
    """``"printer" · Dinas Kominfo · Jaringan → Tinggi``: a rule has no name of its own."""
    conditions = []
    if fields.get("keyword"):
        conditions.append(f"“{fields['keyword']}”")
    for key in ("unit_id", "category_id"):
        if fields.get(key):
            ref = str(fields[key])
            conditions.append(names.by_id.get(ref, ref))
    priority = fields.get("priority")
    target = names.priorities.get(priority, priority) if isinstance(priority, str) else None
    text = " · ".join(conditions)
    return f"{text} → {target}" if target else text


def entity_name(entry: AuditEntry, names: Names) -> str | None:
    """Today's name of the entity, else the one the entry recorded; None for the calendar
    and the export policy (one of each)."""
    kind = entity_type_of(entry.action)
    if kind in ("priority", "sla_policy"):
        return names.priorities.get(entry.entity_id) or _recorded(entry, "name")
    if kind in ("category", "holiday"):
        return names.by_id.get(entry.entity_id) or _recorded(entry, "name")
    if kind == "priority_rule":
        rule = names.rules.get(entry.entity_id)
        if rule is not None:
            fields: dict[str, Any] = {
                "keyword": rule.keyword,
                "unit_id": rule.unit_id,
                "category_id": rule.category_id,
                "priority": rule.priority,
            }
        else:  # deleted: the entry's own snapshots, the newest last
            fields = {**(entry.before or {}), **(entry.after or {})}
        return _rule_text(fields, names) or None
    return None


def actor_name(entry: AuditEntry, names: Names) -> str:
    """Today's name of the actor (directory replica), else the one recorded."""
    if entry.actor_id is None:
        return entry.actor_name
    return names.users.get(str(entry.actor_id)) or entry.actor_name


def field_names(entry: AuditEntry, names: Names) -> dict[str, str]:
    """Names of the UUIDs and priority codes in ``before``/``after``, by value."""
    out: dict[str, str] = {}
    for snapshot in _snapshots(entry):
        for key, value in snapshot.items():
            if (text := uuid_text(value)) is not None:
                name = names.by_id.get(text) or names.users.get(text)
                if name is not None:
                    out[text] = name
            elif key in PRIORITY_FIELDS and isinstance(value, str) and value in names.priorities:
                out[value] = names.priorities[value]
    return out
