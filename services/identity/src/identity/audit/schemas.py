from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from helpdesk_common.contracts.identity import Role


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_name: str = Field(
        description="the actor's name today (as recorded if they are gone; 'system': no actor)"
    )
    action: str
    entity_type: str
    entity_id: str
    entity_name: str | None = Field(
        None,
        description="the user's full name or the unit's name, today or as recorded; "
        "null for the organisation",
    )
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    names: dict[str, str] = Field(
        default_factory=dict,
        description="names of the UUID values in before/after (unit_id -> unit name), by id",
    )
    request_id: str | None


class AuditActorOut(BaseModel):
    id: uuid.UUID
    name: str
    username: str
    role: Role
    is_active: bool
