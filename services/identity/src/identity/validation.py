"""Field types shared by request schemas; a violation becomes a 422 naming the field."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, WithJsonSchema

from helpdesk_common.errors import InvalidInput
from helpdesk_common.inputs import SafeText
from identity.settings import MIN_PASSWORD_LENGTH

# Deliberately permissive (one @, a dotted domain, no spaces): the address is confirmed by
# the mail it receives, and strict RFC parsing would reject real government addresses.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not a valid e-mail address")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


# What _email accepts (after stripping blanks), declared for clients and the contract fuzzer.
EMAIL_PATTERN = r"^\s*[^@\s\u0000]+@[^@\s\u0000]+\.[^@\s.\u0000]+\s*$"
Email = Annotated[
    SafeText,
    BeforeValidator(_strip),
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "maxLength": 254, "pattern": EMAIL_PATTERN}),
]
# The pattern on the inner type: after a BeforeValidator pydantic enforces a pattern but
# leaves it out of the JSON schema (the OpenAPI document must declare it).
Username = Annotated[
    Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]+$")],
    BeforeValidator(_strip),
    StringConstraints(min_length=3, max_length=64),
]
UnitCode = Annotated[
    Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+$")],
    BeforeValidator(_strip),
    StringConstraints(min_length=1, max_length=32),
]
Name = Annotated[SafeText, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=200)]
NewPassword = Annotated[SafeText, Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)]


def reject_nulls(changes: dict[str, object], *, fields: tuple[str, ...]) -> None:
    """In a PATCH, ``null`` clears optional fields; these ones cannot be cleared."""
    for field in fields:
        if field in changes and changes[field] is None:
            raise InvalidInput("validation_error", f"{field} may not be null", field=field)
