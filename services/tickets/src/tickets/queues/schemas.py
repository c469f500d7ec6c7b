"""Request and response bodies of saved views and bulk actions."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from helpdesk_common.inputs import NonNegativeInt4, PositiveInt4, SafeText
from tickets.tickets.filters import TicketFilters
from tickets.tickets.schemas import PriorityCode, Reason

ViewName = Annotated[
    SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)
]
# A view's filters: the list's query parameters with the list's types and constraints (the
# model is built from the list's own declaration: tickets.tickets.filters).
ViewFilters = Annotated[TicketFilters, Field(description="the filters of GET /tickets")]


class StrictBody(BaseModel):
    # A misspelt field is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class ViewCreate(StrictBody):
    name: ViewName
    # The list's query parameters (GET /tickets): q, status, category_id, priority,
    # unit_id, assignee, requester_id, created_from, created_to, overdue, sort.
    params: ViewFilters = Field(default_factory=TicketFilters)


class ViewUpdate(StrictBody):
    name: ViewName | None = None
    params: ViewFilters | None = None
    # Move the view to this place among the user's own views (0: first).
    position: NonNegativeInt4 | None = None


class ViewOut(BaseModel):
    # A built-in view's id is its key ("mine"); a saved view's is its UUID.
    id: str
    key: str | None
    name: str
    builtin: bool
    # The filters as the list's query string has them (GET /tickets?<params>): text, several
    # statuses comma-separated.
    params: dict[str, str]
    position: int
    # How many tickets the view holds now, exact up to the count threshold; None when the
    # view's filters no longer parse (e.g. an option that was removed).
    count: int | None
    count_exact: bool


class BulkTicket(StrictBody):
    id: Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    # The version the client saw: a ticket changed since then is left alone (412 stale).
    version: PositiveInt4 | None = None


BULK_MAX_TICKETS = 100


class BulkBody(StrictBody):
    action: Literal["assign", "priority", "close"]
    tickets: Annotated[list[BulkTicket], Field(min_length=1, max_length=BULK_MAX_TICKETS)]
    assignee_id: uuid.UUID | None = None
    priority: PriorityCode | None = None
    reason: Reason | None = None


class BulkError(BaseModel):
    code: str
    message: str


class BulkResult(BaseModel):
    id: str
    # The ticket as it is after the attempt (None for one the caller may not see).
    number: str | None
    ok: bool
    status: str | None
    error: BulkError | None
    ticket_version: int | None


class BulkOut(BaseModel):
    results: list[BulkResult]
