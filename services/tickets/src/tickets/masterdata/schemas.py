"""Request and response bodies of the master-data endpoints."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from helpdesk_common.inputs import JSON_INTEGER, SafeDate, SafeText
from helpdesk_common.patching import not_null
from helpdesk_common.timeofday import ClockTime

Name = Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
Description = Annotated[SafeText, StringConstraints(strip_whitespace=True, max_length=1000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{0,49}$")]
Keyword = Annotated[
    SafeText, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)
]
# At most a year of working minutes.
# JSON_INTEGER: lax mode took false as 0 and "5" as 5 (the schema says integer).
Minutes = Annotated[int, Field(ge=1, le=525_600), JSON_INTEGER]


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PriorityCreate(StrictBody):
    code: Code
    name: Name
    rank: Annotated[int, Field(ge=0, le=1000), JSON_INTEGER]
    is_default: StrictBool = False


class PriorityUpdate(StrictBody):
    model_config = ConfigDict(json_schema_extra=not_null("name", "rank", "is_default", "is_active"))

    name: Name | None = None
    rank: Annotated[int, Field(ge=0, le=1000), JSON_INTEGER] | None = None
    is_default: StrictBool | None = None
    is_active: StrictBool | None = None


class PriorityOut(BaseModel):
    code: str
    name: str
    rank: int
    is_default: bool
    is_active: bool
    first_response_minutes: int | None
    resolution_minutes: int | None


class SlaPolicyIn(StrictBody):
    first_response_minutes: Minutes
    resolution_minutes: Minutes

    @model_validator(mode="after")
    def _resolution_after_response(self) -> SlaPolicyIn:
        if self.resolution_minutes < self.first_response_minutes:
            raise ValueError("resolution_minutes must not be shorter than first_response_minutes")
        return self


class SlaPolicyOut(BaseModel):
    priority: str
    first_response_minutes: int
    resolution_minutes: int
    updated_at: datetime


class CategoryCreate(StrictBody):
    name: Name
    description: Description | None = None
    default_priority: Code | None = None


class CategoryUpdate(StrictBody):
    model_config = ConfigDict(json_schema_extra=not_null("name", "is_active"))

    name: Name | None = None
    description: Description | None = None
    default_priority: Code | None = None
    is_active: StrictBool | None = None


class CategoryOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    default_priority: str | None
    is_active: bool


class OfficeWindow(StrictBody):
    weekday: Annotated[
        int, Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday"), JSON_INTEGER
    ]
    start: ClockTime
    end: ClockTime


class OfficeHoursIn(StrictBody):
    days: Annotated[list[OfficeWindow], Field(min_length=1, max_length=50)]


class OfficeHoursOut(BaseModel):
    timezone: str
    days: list[OfficeWindow]


class HolidayIn(StrictBody):
    # Years 1900..2200 (helpdesk_common.inputs): year 1 or 9999 broke the office calendar.
    date: SafeDate
    name: Name


class HolidayOut(BaseModel):
    id: uuid.UUID
    date: date
    name: str


class PriorityRuleIn(StrictBody):
    keyword: Keyword | None = None
    unit_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    priority: Code

    @model_validator(mode="after")
    def _some_condition(self) -> PriorityRuleIn:
        if self.keyword is None and self.unit_id is None and self.category_id is None:
            raise ValueError("a rule needs at least one of keyword, unit_id, category_id")
        return self


class PriorityRuleUpdate(StrictBody):
    model_config = ConfigDict(json_schema_extra=not_null("priority", "is_active"))

    keyword: Keyword | None = None
    unit_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    priority: Code | None = None
    is_active: StrictBool | None = None


class PriorityRuleOut(BaseModel):
    id: uuid.UUID
    keyword: str | None
    unit_id: uuid.UUID | None
    category_id: uuid.UUID | None
    priority: str
    is_active: bool


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_id: uuid.UUID | None
    # The actor's name today (directory replica), else as recorded.
    actor_name: str
    action: str
    # The action's first part: category, priority, sla_policy, holiday, priority_rule, ...
    entity_type: str
    entity_id: str
    # The category's, priority's or holiday's name (today's, else as recorded), a rule's
    # description; null for the office hours and the export policy.
    entity_name: str | None = None
    before: dict[str, object] | None
    after: dict[str, object] | None
    # Names of the ids and priority codes in before/after (category_id -> its name), by value.
    names: dict[str, str] = Field(default_factory=dict)
