"""Events published by the identity service (``user.*``, ``unit.*``).

Other services keep local copies of names, e-mail addresses and roles from these;
every event carries the full current snapshot, so a consumer can upsert without ordering
guarantees by comparing ``revision``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Final, Literal, get_args

from helpdesk_common.contracts.envelope import EventPayload

Role = Literal["requester", "agent", "admin", "leader"]
Language = Literal["id", "en"]

# The role constants every service uses; nothing declares its own list of roles.
ROLES: Final[tuple[Role, ...]] = get_args(Role)
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
# The IT office's staff who work tickets: their first reaction stops the first-response clock.
IT_STAFF_ROLES: Final[frozenset[Role]] = frozenset({"agent", "admin"})
# Everyone but requesters: they may read internal notes and every unit's tickets.
INTERNAL_ROLES: Final[frozenset[Role]] = frozenset({"agent", "admin", "leader"})


class UserSnapshot(EventPayload):
    user_id: uuid.UUID
    username: str
    full_name: str
    email: str | None
    role: Role
    unit_id: uuid.UUID | None
    is_active: bool
    language: Language = "id"
    # Increases on every change; consumers ignore a snapshot older than the one they hold.
    revision: int
    updated_at: datetime


class UserCreated(UserSnapshot):
    event_type: ClassVar[str] = "user.created"


class UserUpdated(UserSnapshot):
    event_type: ClassVar[str] = "user.updated"


class UserDeactivated(UserSnapshot):
    event_type: ClassVar[str] = "user.deactivated"


class UnitSnapshot(EventPayload):
    unit_id: uuid.UUID
    code: str
    name: str
    contact_name: str | None = None
    contact_email: str | None = None
    is_active: bool
    revision: int
    updated_at: datetime


class UnitCreated(UnitSnapshot):
    event_type: ClassVar[str] = "unit.created"


class UnitUpdated(UnitSnapshot):
    event_type: ClassVar[str] = "unit.updated"


class OrganisationUpdated(EventPayload):
    """The organisation's identity (the letterhead of every document: seed 004 §3.6,
    "identitas"), set by an administrator. One organisation per installation; the full
    current snapshot, logo included (at most 256 KB before base64)."""

    event_type: ClassVar[str] = "organisation.updated"
    name: str
    parent_name: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    logo_base64: str | None = None
    logo_media_type: Literal["image/png", "image/jpeg", "image/svg+xml"] | None = None
    revision: int
    updated_at: datetime


class UserSignInAttacked(EventPayload):
    """An account had many failed sign-ins (from any addresses) within identity's alert
    window: someone may be guessing its password. Published at most once per account per
    window, for telling the user and the administrators; nobody is locked out by it."""

    event_type: ClassVar[str] = "user.sign_in_attacked"
    user_id: uuid.UUID
    username: str
    # Failed attempts on the account since ``window_started_at``, and from how many
    # client addresses (the addresses themselves are in identity's audit log).
    failures: int
    addresses: int
    window_started_at: datetime
    detected_at: datetime
