"""Request and response bodies of saved views and bulk actions."""

from __future__ import annotations

import inspect
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from helpdesk_common.inputs import NonNegativeInt4, PositiveInt4, SafeText
from tickets.tickets.schemas import PriorityCode, Reason

ViewName = Annotated[
    SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)
]
ParamName = Annotated[SafeText, StringConstraints(min_length=1, max_length=40)]
# One query parameter of the ticket list: a value, or several (``status``).
ParamValue = (
    Annotated[SafeText, StringConstraints(max_length=500)]
    | Annotated[list[Annotated[SafeText, StringConstraints(max_length=100)]], Field(max_length=20)]
)


def _filter_names(schema: dict[str, Any]) -> None:
    """Declare the filters a view may hold: the list's query parameters (imported when the
    schema is built: the filters module needs the service's runtime)."""
    from tickets.tickets import filters

    names = [
        name
        for name, parameter in inspect.signature(filters.ticket_selection).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    ]
    schema["propertyNames"] = {"enum": names}


ViewParams = Annotated[
    dict[ParamName, ParamValue], Field(max_length=20, json_schema_extra=_filter_names)
]


class StrictBody(BaseModel):
    # A misspelt field is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class ViewCreate(StrictBody):
    name: ViewName
    # The list's query parameters (GET /tickets): q, status, category_id, priority,
    # unit_id, assignee, requester_id, created_from, created_to, overdue, sort.
    params: ViewParams = {}


class ViewUpdate(StrictBody):
    name: ViewName | None = None
    params: ViewParams | None = None
    # Move the view to this place among the user's own views (0: first).
    position: NonNegativeInt4 | None = None


class ViewOut(BaseModel):
    # A built-in view's id is its key ("mine"); a saved view's is its UUID.
    id: str
    key: str | None
    name: str
    builtin: bool
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
