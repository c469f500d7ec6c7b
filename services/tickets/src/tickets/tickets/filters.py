"""The ticket list's query parameters (filters and sort), parsed once for every endpoint that
selects tickets the way the list does: ``GET /tickets`` and ``GET /tickets/export.csv``."""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Annotated, Any, Union
from zoneinfo import ZoneInfo

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, StrictBool, create_model

from helpdesk_common.auth import CurrentUser
from helpdesk_common.errors import ApiError
from helpdesk_common.inputs import SafeDateOrDateTime, SafeText
from tickets.runtime import RuntimeDep
from tickets.shared import jsonable
from tickets.tickets import queries
from tickets.tickets.numbering import UUID_PATTERN
from tickets.tickets.policy import STATUSES


@dataclass(frozen=True)
class TicketSelection:
    """Which tickets (filters) in which order (sort), as the caller asked."""

    filters: queries.TicketFilters
    sort: queries.SortKey

    def describe(self) -> dict[str, Any]:
        """The filters that were given and the sort, as JSON (the export log keeps it)."""
        given = {
            name: jsonable(value)
            for name, value in dataclasses.asdict(self.filters).items()
            if value not in (None, (), [], False, "")
        }
        if "statuses" in given:
            given["statuses"] = list(given["statuses"])
        return {**given, "sort": ("-" if self.sort.descending else "") + self.sort.name}


def as_instant(value: datetime | date | None, *, timezone: str, end: bool) -> datetime | None:
    """Dates and naive times are office-local; a date as the upper bound includes the day."""
    if value is None:
        return None
    zone = ZoneInfo(timezone)
    if not isinstance(value, datetime):
        day = value.toordinal() + (1 if end else 0)
        return datetime.combine(date.fromordinal(day), time(0), zone)
    return value if value.tzinfo else value.replace(tzinfo=zone)


def parse_statuses(values: list[str] | None) -> list[str]:
    statuses = [s.strip() for value in values or [] for s in value.split(",") if s.strip()]
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise ApiError(
            422,
            "invalid_status",
            f"Unknown status {', '.join(unknown)}; use {', '.join(STATUSES)}",
            field="status",
        )
    return statuses


def comma_separated(choices: Iterable[str]) -> str:
    """A pattern for a comma-separated list of ``choices`` as the parsers here read it
    (blanks around and empty items between commas ignored), declared in the OpenAPI."""
    one = "(" + "|".join(re.escape(choice) for choice in choices) + ")"
    return rf"^[\s,]*({one}(\s*,[\s,]*{one})*)?[\s,]*$"


def parse_assignee(value: str | None, *, me: uuid.UUID) -> tuple[uuid.UUID | None, bool]:
    """(assignee id, unassigned only) from an agent's id, ``me`` or ``none``."""
    if not value:
        return None, False
    if value == "me":
        return me, False
    if value == "none":
        return None, True
    try:
        return uuid.UUID(value), False
    except ValueError:
        raise ApiError(
            422, "invalid_assignee", "Use an agent's id, 'me' or 'none'", field="assignee"
        ) from None


async def ticket_selection(
    principal: CurrentUser,
    runtime: RuntimeDep,
    status: Annotated[
        list[str] | None,
        Query(
            description="repeat or comma-separate",
            json_schema_extra={"items": {"type": "string", "pattern": comma_separated(STATUSES)}},
        ),
    ] = None,
    unit_id: uuid.UUID | None = None,
    category_id: uuid.UUID | None = None,
    priority: Annotated[str | None, Query(max_length=50)] = None,
    assignee: Annotated[
        str | None,
        Query(
            description="an agent's id, 'me' or 'none'",
            max_length=40,
            # Declared; parse_assignee enforces it (422 invalid_assignee).
            json_schema_extra={"pattern": f"^(|me|none|{UUID_PATTERN})$"},
        ),
    ] = None,
    requester_id: uuid.UUID | None = None,
    # Years 1900..2200: year 1 or 9999 overflowed when put in the office's zone (a 500).
    # A date-only value as the upper bound includes that day (as_instant).
    created_from: SafeDateOrDateTime | None = None,
    created_to: SafeDateOrDateTime | None = None,
    overdue: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="full-text search")] = None,
    sort: Annotated[
        str,
        Query(
            max_length=20,
            # Declared; queries.parse_sort enforces it (422 invalid_sort).
            json_schema_extra={"pattern": f"^[-+]*({'|'.join(queries.SORT_EXPRESSIONS)})$"},
        ),
    ] = "-created_at",
) -> TicketSelection:
    """Dependency: the list's filters and sort from the query string (422 naming the field)."""
    assignee_id, unassigned = parse_assignee(assignee, me=principal.user_id)
    timezone = runtime.settings.timezone
    filters = queries.TicketFilters(
        statuses=parse_statuses(status),
        unit_id=unit_id,
        category_id=category_id,
        priority=priority,
        assignee_id=assignee_id,
        unassigned=unassigned,
        requester_id=requester_id,
        created_from=as_instant(created_from, timezone=timezone, end=False),
        created_to=as_instant(created_to, timezone=timezone, end=True),
        overdue=overdue,
        q=q or None,
    )
    return TicketSelection(filters=filters, sort=queries.parse_sort(sort))


TicketSelectionDep = Annotated[TicketSelection, Depends(ticket_selection)]


# -- the same filters in a JSON body (a saved view's) ---------------------------------------


def _in_json(hint: Any) -> Any:
    """A query parameter's type for a JSON body: a boolean must be a JSON boolean (the
    query string's lax bool also took 0, "on" or "yes", which the schema's ``boolean`` does
    not allow) and text is SafeText (JSON can carry a NUL, which the query's guard keeps out
    of a query string and PostgreSQL would refuse to store). Constraints are kept as the
    list declares them."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        inner, *metadata = typing.get_args(hint)
        return Annotated[(_in_json(inner), *metadata)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_in_json(arg) for arg in typing.get_args(hint))]  # noqa: UP007
    if origin is list:
        return list[_in_json(typing.get_args(hint)[0])]  # type: ignore[misc]
    if hint is bool:
        return StrictBool
    if hint is str:
        return SafeText
    return hint


def _filters_model() -> type[BaseModel]:
    """The list's filters (``ticket_selection``'s query parameters, with their types,
    constraints and defaults) as a model: declared from the list's own parameters, so a
    filter added to the list is a filter of saved views too."""
    hints = typing.get_type_hints(ticket_selection, include_extras=True)
    fields: dict[str, Any] = {
        name: (_in_json(hints[name]), parameter.default)
        for name, parameter in inspect.signature(ticket_selection).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    return create_model(
        "TicketFilters",
        # A misspelt filter is an error, not silently ignored.
        __config__=ConfigDict(extra="forbid"),
        __doc__="The ticket list's filters and sort (GET /tickets's query parameters).",
        **fields,
    )


if TYPE_CHECKING:
    TicketFilters = BaseModel
else:
    TicketFilters = _filters_model()


def as_query(given: dict[str, Any]) -> dict[str, str]:
    """The filters given (``TicketFilters``' fields that were set, ``None`` meaning not
    given), as text of the list's query string: several statuses joined with commas
    (``status=new,pending``). Nothing is trimmed or left out, so that the list's parser
    judges exactly what was sent (an empty ``sort`` is refused, as on the list)."""
    query: dict[str, str] = {}
    for name, value in given.items():
        if value is None:
            continue
        if isinstance(value, bool):
            query[name] = "true" if value else "false"
        elif isinstance(value, list):
            query[name] = ",".join(value)
        elif isinstance(value, date):  # a datetime too
            query[name] = value.isoformat()
        else:
            query[name] = str(value)
    return query


def stored_query(query: dict[str, str]) -> dict[str, str]:
    """A checked query as a saved view keeps it: blank values (the list ignores them) left
    out, the rest trimmed."""
    return {name: text.strip() for name, text in query.items() if text.strip()}
