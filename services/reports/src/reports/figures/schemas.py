"""What the figures endpoints answer."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from helpdesk_common.pagination import Page


class PeriodOut(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    timezone: str


class DurationFigures(BaseModel):
    """A working-time duration (office hours only; resolution without paused time)."""

    count: int
    mean_seconds: float | None
    median_seconds: float | None = None
    p90_seconds: float | None = None
    percentiles: Literal["exact", "approximate", "omitted"] | None = Field(
        default=None,
        description="how median and p90 were computed: exact; estimated from the duration"
        " histograms (within an eighth) when the period has many tickets; or omitted, when"
        " many tickets are filtered on several dimensions at once (narrow the period)",
    )


class SlaFigures(BaseModel):
    met: int
    breached: int
    compliance_percent: float | None = Field(description="met / (met + breached); None: none")


class Figures(BaseModel):
    created: int = Field(description="tickets created in the period")
    by_status: dict[str, int] = Field(description="the period's tickets by their status now")
    resolved: int = Field(description="tickets resolved in the period")
    done: int = Field(description="tickets resolved, closed or rejected in the period")
    first_response: DurationFigures
    resolution: DurationFigures
    sla_first_response: SlaFigures
    sla_resolution: SlaFigures
    escalated: int
    reopened: int = Field(description="of the tickets resolved in the period, reopened before")
    reopen_rate_percent: float | None
    rejected: int
    rejection_rate_percent: float | None


class Scope(BaseModel):
    period: PeriodOut
    filters: dict[str, str]
    source: str = Field(description="the rollup the sums were read from")


class Summary(Scope):
    figures: Figures
    open_now: int = Field(description="tickets open now (not resolved, closed or rejected)")


class TrendPoint(Figures):
    period_start: date
    backlog_end: int = Field(description="tickets open at the end of this period")


class Trend(Scope):
    group_by: str
    points: list[TrendPoint]


class BreakdownRow(Figures):
    key: str | None
    name: str | None
    open_now: int


class Breakdown(Scope):
    by: str
    rows: list[BreakdownRow]


class CompletedItem(BaseModel):
    ticket_id: uuid.UUID
    number: str
    title: str
    status: str
    priority: str
    channel: str
    unit_id: uuid.UUID
    unit_name: str | None
    category_id: uuid.UUID | None
    category_name: str | None
    assignee_id: uuid.UUID | None
    assignee_name: str | None
    created_at: datetime
    resolved_at: datetime
    resolution_seconds: int | None
    result_summary: str | None


class CompletedPage(Page[CompletedItem]):
    count: int = Field(description="tickets resolved in the period, all pages")


class Named(BaseModel):
    id: str
    name: str


class Dimensions(BaseModel):
    units: list[Named]
    categories: list[Named]
    priorities: list[Named]
    channels: list[Named]
    agents: list[Named]
