from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from helpdesk_common.contracts.identity import Language, Role
from helpdesk_common.patching import not_null
from identity.validation import Email, Name, NewPassword, Username


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    full_name: Name
    email: Email | None = None
    role: Role
    # Required for requesters: they act for their unit.
    unit_id: uuid.UUID | None = None
    language: Language = "id"
    # Omitted: a temporary password is generated and returned once in the response.
    password: NewPassword | None = None


class UserUpdate(BaseModel):
    """Only the fields sent are changed. Activation has its own endpoints."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=not_null("full_name", "role", "language")
    )

    full_name: Name | None = None
    email: Email | None = None
    role: Role | None = None
    unit_id: uuid.UUID | None = None
    language: Language | None = None


class ResetPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Omitted: a temporary password is generated and returned once.
    new_password: NewPassword | None = None


class UserOut(BaseModel):
    """A user's profile, as staff see it (never the password)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    full_name: str
    email: str | None
    role: Role
    unit_id: uuid.UUID | None
    is_active: bool
    language: Language
    revision: int
    created_at: datetime
    updated_at: datetime


class AdminUserOut(UserOut):
    """What administrators see in addition: the account's security state."""

    must_change_password: bool
    password_changed_at: datetime | None
    last_login_at: datetime | None
    failed_login_count: int
    locked_until: datetime | None


class CreatedUserOut(AdminUserOut):
    temporary_password: str | None = None


class PasswordResetOut(BaseModel):
    user_id: uuid.UUID
    must_change_password: bool
    # Only when the server generated the password; shown once, never stored in clear.
    temporary_password: str | None = None
