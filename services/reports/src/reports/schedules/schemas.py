"""Request and response bodies of the scheduled reports API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from helpdesk_common.contracts.identity import Language
from helpdesk_common.inputs import PositiveInt4, SafeText
from reports.exports.documents import ReportKind
from reports.figures.period import GroupBy
from reports.figures.queries import Dimension
from reports.schedules.periods import Cadence

MAX_RECIPIENTS = 20


class ScheduleFilters(BaseModel):
    """What the report is narrowed to (absent: everything)."""

    model_config = ConfigDict(extra="forbid")

    unit_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    priority: SafeText | None = Field(default=None, max_length=50)
    agent_id: uuid.UUID | None = None
    channel: SafeText | None = Field(default=None, max_length=50)


class ScheduleOptions(BaseModel):
    """How the report is laid out: the trend's grouping, the breakdown's dimension."""

    model_config = ConfigDict(extra="forbid")

    group_by: GroupBy | None = None
    by: Dimension = "unit"


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SafeText = Field(min_length=1, max_length=120)
    report: ReportKind
    cadence: Cadence
    filters: ScheduleFilters = Field(default_factory=ScheduleFilters)
    options: ScheduleOptions = Field(default_factory=ScheduleOptions)
    recipient_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    language: Language = "id"
    is_active: StrictBool = True


class ScheduleUpdate(BaseModel):
    """Only the fields given change; ``version`` (optional) guards against a lost update."""

    model_config = ConfigDict(extra="forbid")

    name: SafeText | None = Field(default=None, min_length=1, max_length=120)
    report: ReportKind | None = None
    cadence: Cadence | None = None
    filters: ScheduleFilters | None = None
    options: ScheduleOptions | None = None
    recipient_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=MAX_RECIPIENTS
    )
    language: Language | None = None
    is_active: StrictBool | None = None
    version: PositiveInt4 | None = Field(
        default=None, description="the version you read; 409 if stale"
    )


class ScheduleOut(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    owner_name: str
    name: str
    report: str
    cadence: Cadence
    filters: ScheduleFilters
    options: ScheduleOptions
    recipient_ids: list[uuid.UUID]
    language: Language
    is_active: bool
    next_period_from: date = Field(description="first day of the next period to be sent")
    next_period_to: date
    due_at: datetime = Field(description="when the next period's report is sent")
    last_error: str | None = Field(description="why the last attempt failed, if it did")
    created_at: datetime
    updated_at: datetime
    version: int


class RunOut(BaseModel):
    id: uuid.UUID
    period_from: date
    period_to: date
    status: Literal["generated", "skipped", "failed"]
    generated_at: datetime
    recipient_count: int
    filename: str | None
    size_bytes: int | None
    detail: str | None


class RecipientOut(BaseModel):
    id: uuid.UUID
    full_name: str
    role: str
    email: str
