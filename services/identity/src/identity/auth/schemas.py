from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from helpdesk_common.contracts.identity import Language
from helpdesk_common.inputs import SafeText
from helpdesk_common.patching import not_null
from identity.users.schemas import UserOut
from identity.validation import Email, Name, NewPassword


class LoginIn(BaseModel):
    # No password policy here: checking it would only tell an attacker what is not valid.
    username: SafeText = Field(min_length=1, max_length=256)
    password: SafeText = Field(min_length=1, max_length=1024)


class RefreshIn(BaseModel):
    refresh_token: SafeText = Field(min_length=1, max_length=512)


class UnitBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str


class MeOut(UserOut):
    must_change_password: bool
    unit: UnitBrief | None = None


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_expires_in: int = Field(description="seconds until the refresh token expires")
    user: MeOut


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=not_null("full_name", "language"))

    full_name: Name | None = None
    language: Language | None = None
    email: Email | None = None


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: SafeText = Field(min_length=1, max_length=1024)
    new_password: NewPassword


class PublicKeyOut(BaseModel):
    algorithm: Literal["EdDSA"] = "EdDSA"
    public_key: str
    issuer: str
    audience: str
