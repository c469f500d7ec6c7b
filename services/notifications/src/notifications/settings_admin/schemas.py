from __future__ import annotations

import uuid
from datetime import datetime
from email.utils import parseaddr

from pydantic import BaseModel, Field, field_validator

from helpdesk_common.inputs import SafeText
from notifications.settings import SmtpSecurity
from notifications.settings_admin.service import ConfigSource


def _is_address(value: str) -> bool:
    local, _, domain = parseaddr(value)[1].rpartition("@")
    return bool(local) and bool(domain) and " " not in domain


class SmtpSettingsOut(BaseModel):
    host: str
    port: int
    security: SmtpSecurity
    username: str | None
    sender: str
    # The password itself is write-only: it is never returned.
    has_password: bool
    source: ConfigSource
    revision: int
    updated_at: datetime | None
    updated_by: uuid.UUID | None
    problem: str | None = None


class SmtpSettingsIn(BaseModel):
    host: str = Field(min_length=1, max_length=255, pattern=r"^[^\s/\u0000]+$")
    port: int = Field(ge=1, le=65535)
    security: SmtpSecurity = "none"
    username: SafeText | None = Field(default=None, max_length=320)
    password: SafeText | None = Field(
        default=None,
        max_length=1024,
        description='Omit or null to keep the saved password; "" to remove it.',
    )
    sender: SafeText = Field(
        min_length=3,
        max_length=320,
        description='The From header, e.g. "Helpdesk Kominfo <helpdesk@example.go.id>".',
    )

    @field_validator("sender")
    @classmethod
    def _sender_is_address(cls, value: str) -> str:
        if "\n" in value or "\r" in value or not _is_address(value):
            raise ValueError("must be an e-mail address, optionally with a display name")
        return value.strip()


class SmtpTestIn(BaseModel):
    to: SafeText | None = Field(
        default=None, max_length=320, description="defaults to the administrator's address"
    )

    @field_validator("to")
    @classmethod
    def _to_is_address(cls, value: str | None) -> str | None:
        if value is not None and (not _is_address(value) or "<" in value):
            raise ValueError("must be a plain e-mail address")
        return value


class SmtpTestResult(BaseModel):
    sent: bool
    recipient: str
