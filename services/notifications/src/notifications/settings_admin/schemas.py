from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from helpdesk_common.inputs import JSON_INTEGER, SafeText
from notifications.settings import SmtpSecurity
from notifications.settings_admin.service import ConfigSource

# The addresses as patterns, declared in the OpenAPI document and checked with these same
# expressions (Python's ``re``, as the contract fuzzer reads them), so that the schema says
# exactly what is accepted. Narrower than RFC 5322 on purpose: no comments, groups, route
# addresses, quoted local parts or non-ASCII addresses (which need SMTPUTF8), whose parsing
# (email.utils) and delivery differ between readers and servers.
# An address: dot-atoms of RFC 5322's atext, @, a domain of letters, digits, - and _ (one
# label allowed: an intranet's own host, like the default sender's helpdesk@localhost).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9_-]+"
_ADDR = rf"{_ATOM}(\.{_ATOM})*@{_LABEL}(\.{_LABEL})*"
# A display name: words of any letters but no specials, spaces or controls, separated by
# single spaces; or a quoted string of the same and spaces.
_WORD = r'[^@<>()\[\]",;:\\\s\u0000-\u001f\u007f-\u009f]+'
_QUOTED = r'"([^"\\\s\u0000-\u001f\u007f-\u009f]| )*"'
_NAME = rf"({_WORD}( {_WORD})*|{_QUOTED})"
ADDRESS_PATTERN = rf"^ *{_ADDR} *$"
"""A plain address (surrounding spaces are dropped)."""
MAILBOX_PATTERN = rf"^ *({_ADDR}|({_NAME} *)?<{_ADDR}>) *$"
"""An address, or a display name and the address in angle brackets (the From header)."""
# fullmatch: Python's $ also matches before a final newline, JSON Schema's (ECMA 262) not.
_ADDRESS = re.compile(ADDRESS_PATTERN)
_MAILBOX = re.compile(MAILBOX_PATTERN)


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
    port: Annotated[int, Field(ge=1, le=65535), JSON_INTEGER]  # lax mode took true as 1
    security: SmtpSecurity = "none"
    username: SafeText | None = Field(default=None, max_length=320)
    password: SafeText | None = Field(
        default=None,
        max_length=1024,
        description='Omit or null to keep the saved password; "" to remove it.',
    )
    # SafeText (its pattern refuses NUL and lone surrogates); the declared pattern is ours.
    sender: SafeText = Field(
        min_length=3,
        max_length=320,
        description='The From header, e.g. "Helpdesk Kominfo <helpdesk@example.go.id>".',
        json_schema_extra={"pattern": MAILBOX_PATTERN},
    )

    @field_validator("sender")
    @classmethod
    def _sender_is_address(cls, value: str) -> str:
        if not _MAILBOX.fullmatch(value):
            raise ValueError("must be an e-mail address, optionally with a display name")
        return value.strip(" ")


class SmtpTestIn(BaseModel):
    to: (
        Annotated[SafeText, Field(max_length=320, json_schema_extra={"pattern": ADDRESS_PATTERN})]
        | None
    ) = Field(default=None, description="defaults to the administrator's address")

    @field_validator("to")
    @classmethod
    def _to_is_address(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.fullmatch(value):
            raise ValueError("must be a plain e-mail address")
        return value.strip(" ") if value is not None else None


class SmtpTestResult(BaseModel):
    sent: bool
    recipient: str
