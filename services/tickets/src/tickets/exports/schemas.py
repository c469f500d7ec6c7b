"""Bodies of the export endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from helpdesk_common.contracts.identity import Role


class ExportColumnOut(BaseModel):
    key: str
    label: str
    # Personal data (UU PDP): exported only by the roles of the privacy policy.
    personal: bool
    # Whether the caller may choose it.
    allowed: bool


class ExportPolicyOut(BaseModel):
    contact_roles: list[str]
    updated_at: datetime | None
    updated_by_name: str | None


class ExportPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The roles that may export contact details (contact_phone, contact_email).
    contact_roles: list[Role]


class ExportLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: uuid.UUID
    user_name: str
    user_role: str
    started_at: datetime
    finished_at: datetime | None
    filters: dict[str, Any]
    columns: list[str]
    language: str
    row_count: int | None
    status: str
