"""What every service's audit log shares: the filters an administrator reads it by (actor,
action, period), checked alike (a typo or a reversed period is a 422, not an empty page),
and the recognition of the UUIDs in before/after snapshots that the log names."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from sqlalchemy import Select

from helpdesk_common.errors import InvalidInput
from helpdesk_common.inputs import SafeAwareDateTime

S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True)
class AuditFilters:
    actor_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive (a period of whole days: the next day's start)

    def check(self, *, actions: Collection[str]) -> None:
        """422 for a filter that can match nothing by mistake."""
        if self.action is not None and self.action not in actions:
            raise InvalidInput("unknown_action", f"Unknown action {self.action!r}", field="action")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise InvalidInput("reversed_period", "since must not be after until", field="until")

    def apply(self, query: S, *, at: Any, actor_id: Any, action: Any) -> S:
        """``query`` narrowed by the filters given, on the log's own columns."""
        if self.actor_id is not None:
            query = query.where(actor_id == self.actor_id)
        if self.action is not None:
            query = query.where(action == self.action)
        if self.since is not None:
            query = query.where(at >= self.since)
        if self.until is not None:
            query = query.where(at < self.until)
        return query


def audit_filters(
    actor_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(description="e.g. user.created")] = None,
    since: Annotated[SafeAwareDateTime | None, Query(description="from (inclusive)")] = None,
    until: Annotated[SafeAwareDateTime | None, Query(description="to (exclusive)")] = None,
) -> AuditFilters:
    """Dependency: the audit-log filters from the query string (times with their zone)."""
    return AuditFilters(actor_id=actor_id, action=action, since=since, until=until)


AuditFiltersDep = Annotated[AuditFilters, Depends(audit_filters)]


def uuid_text(value: object) -> str | None:
    """``value`` as a canonical UUID string, or None if it is not one."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
