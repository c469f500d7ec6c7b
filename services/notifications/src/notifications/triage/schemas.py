from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from helpdesk_common.inputs import JSON_INTEGER
from helpdesk_common.timeofday import ClockTime
from notifications.triage.service import TriageMode

# JSON_INTEGER: lax mode took true as 1 (the schema says integer).
Weekday = Annotated[
    int, Field(ge=1, le=7, description="ISO weekday: 1 Monday ... 7 Sunday"), JSON_INTEGER
]


class DutyHours(BaseModel):
    """On duty on these weekdays from ``from`` until before ``to`` (office time zone)."""

    model_config = ConfigDict(populate_by_name=True)

    weekdays: list[Weekday] = Field(min_length=1, max_length=7)
    from_: ClockTime = Field(alias="from")
    to: ClockTime


class TriageMemberIn(BaseModel):
    user_id: uuid.UUID
    duty: DutyHours | None = Field(default=None, description="none: always on duty")


class TriageIn(BaseModel):
    mode: TriageMode
    members: list[TriageMemberIn] = Field(default_factory=list, max_length=200)


class TriageMemberOut(BaseModel):
    user_id: uuid.UUID
    # From the directory replica; None when the user is no longer known there.
    full_name: str | None
    role: str | None
    is_active: bool
    duty: DutyHours | None
    on_duty_now: bool


class TriageCandidate(BaseModel):
    user_id: uuid.UUID
    full_name: str
    role: str


class TriageOut(BaseModel):
    mode: TriageMode
    members: list[TriageMemberOut]
    # Who a ticket created now would alert (in triage_group mode).
    alerted_now: list[uuid.UUID]
    timezone: str
    revision: int
    updated_at: datetime | None
    updated_by: uuid.UUID | None
    # Active agents and administrators, who may be members.
    candidates: list[TriageCandidate]
