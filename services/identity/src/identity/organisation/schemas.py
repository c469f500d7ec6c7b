from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    WithJsonSchema,
)

from helpdesk_common.inputs import SafeText
from helpdesk_documents.organisation import DEFAULT_NAME
from identity.validation import EMAIL_PATTERN, Email, Name


def _blank_to_none(value: object) -> object:
    """Optional lines: surrounding spaces go, and an empty line means none."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _web_address(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in value)
    ):
        raise ValueError("not a web address (http:// or https://)")
    return value


Line200 = Annotated[SafeText, StringConstraints(max_length=200)]
Address = Annotated[SafeText, StringConstraints(max_length=500)]
Phone = Annotated[SafeText, StringConstraints(max_length=50)]
Website = Annotated[
    SafeText,
    StringConstraints(max_length=200),
    AfterValidator(_web_address),
    # What _web_address accepts, or a blank line (none: _blank_to_none), declared.
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 200,
            "pattern": r"^(\s*|\s*[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#@]+([/?#]\S*)?\s*)$",
        }
    ),
]

# An address, or a blank line (none: _blank_to_none), declared: the shared Email pattern
# alone refused "", which is how a client clears the field.
OptionalEmail = Annotated[
    Email | None,
    BeforeValidator(_blank_to_none),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": 254, "pattern": EMAIL_PATTERN},
                {"type": "string", "pattern": r"^\s*$"},
                {"type": "null"},
            ]
        }
    ),
]


class OrganisationUpdate(BaseModel):
    """The whole identity (PUT): a field left out or null is cleared. The logo has its own
    endpoints and is kept."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    parent_name: Annotated[Line200 | None, BeforeValidator(_blank_to_none)] = None
    address: Annotated[Address | None, BeforeValidator(_blank_to_none)] = None
    phone: Annotated[Phone | None, BeforeValidator(_blank_to_none)] = None
    email: OptionalEmail = None
    website: Annotated[Website | None, BeforeValidator(_blank_to_none)] = None


class OrganisationOut(BaseModel):
    """The identity printed on documents; ``revision`` 0 and ``updated_at`` null until an
    administrator first saves it (the defaults)."""

    name: str = DEFAULT_NAME
    parent_name: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    has_logo: bool = False
    logo_media_type: str | None = None
    revision: int = 0
    updated_at: datetime | None = None
