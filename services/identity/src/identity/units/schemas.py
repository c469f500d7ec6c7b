from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, StrictBool

from helpdesk_common.patching import not_null
from identity.validation import Email, Name, UnitCode


class UnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: UnitCode
    name: Name
    contact_name: Name | None = None
    contact_email: Email | None = None
    is_active: StrictBool = True


class UnitUpdate(BaseModel):
    """Only the fields sent are changed; ``is_active: false`` deactivates the unit."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=not_null("code", "name", "is_active")
    )

    code: UnitCode | None = None
    name: Name | None = None
    contact_name: Name | None = None
    contact_email: Email | None = None
    is_active: StrictBool | None = None


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    contact_name: str | None
    contact_email: str | None
    is_active: bool
    revision: int
    created_at: datetime
    updated_at: datetime
