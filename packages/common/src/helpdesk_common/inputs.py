"""What any value from outside may be before it reaches the database: one set of input
types and one guard, in every service.

PostgreSQL refuses text with a NUL character (``invalid byte sequence``) and text that is not
valid Unicode (a lone surrogate such as ``"\\ud800"``, which JSON can spell but UTF-8 cannot
encode), integers past their column's type, and timestamps past what a time zone conversion
can reach (``0001-01-01`` in a zone east of UTC is year 0). Each of those used to be a 500;
they are a 422 naming the field:

- **Text in a request body**: every ``str`` of a request model is :data:`SafeText` (or an
  ``Annotated`` built on it). Its ``pattern`` (:data:`NO_NUL_PATTERN`) refuses NUL, and with
  a pattern pydantic also refuses a lone surrogate (``string_unicode``). The pattern is
  declared in the OpenAPI document, so generated clients and the contract fuzzer know it.
- **Text in a query string or path**: :class:`TextGuardMiddleware` refuses NUL in any query
  parameter (name or value) and in the path, for every route at once; :func:`declare_text_guard`
  declares it as the same pattern on each string parameter of the OpenAPI document.
  (Percent-decoding replaces invalid UTF-8, so no lone surrogate can come this way.)
- **Dates and instants**: :data:`SafeDate` and :data:`SafeDateTime` stay within
  :data:`MIN_DATE` .. :data:`MAX_DATE` (years 1900-2200: any office's dates, and far from
  the ends of Python's and PostgreSQL's ranges in every time zone).
- **Integers**: :data:`Int4` / :data:`PositiveInt4` fit an ``integer`` column (serial ids,
  versions), :data:`Int8` a ``bigint``.

Search words are refused like any other text (422), not stripped: one rule for every field.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from starlette.types import ASGIApp, Receive, Scope, Send

from helpdesk_common.errors import error_body

# Any text without a NUL character. ``\u0000`` is spelt the same in Python's and Rust's
# regular expressions (pydantic's) and in ECMA 262 (JSON Schema's).
NO_NUL_PATTERN = r"^[^\u0000]*$"

SafeText = Annotated[str, StringConstraints(pattern=NO_NUL_PATTERN)]
"""A string that PostgreSQL can store: no NUL, valid Unicode. Add further constraints by
nesting: ``Annotated[SafeText, StringConstraints(min_length=1, max_length=200)]`` (an
outer ``pattern`` replaces this one, so it must refuse NUL itself)."""

INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1

Int4 = Annotated[int, Field(ge=-INT4_MAX - 1, le=INT4_MAX)]
PositiveInt4 = Annotated[int, Field(ge=1, le=INT4_MAX)]
"""A serial id or a version number: an ``integer`` column, from 1."""
NonNegativeInt4 = Annotated[int, Field(ge=0, le=INT4_MAX)]
Int8 = Annotated[int, Field(ge=-INT8_MAX - 1, le=INT8_MAX)]
PositiveInt8 = Annotated[int, Field(ge=1, le=INT8_MAX)]

MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2200, 12, 31)
_RANGE_TEXT = f"{MIN_DATE.isoformat()} .. {MAX_DATE.isoformat()}"
# ``formatMinimum``/``formatMaximum``: the JSON Schema vocabulary for bounds of a date
# format (ajv-formats); JSON Schema's own minimum/maximum are for numbers only.
_DATE_BOUNDS: dict[str, Any] = {
    "formatMinimum": MIN_DATE.isoformat(),
    "formatMaximum": MAX_DATE.isoformat(),
}
_DATETIME_BOUNDS: dict[str, Any] = {
    "formatMinimum": f"{MIN_DATE.isoformat()}T00:00:00Z",
    "formatMaximum": f"{MAX_DATE.isoformat()}T23:59:59Z",
}


def _date_in_range(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise PydanticCustomError(
            "date_out_of_range", "must be a date from {range}", {"range": _RANGE_TEXT}
        )
    return value


def _datetime_in_range(value: datetime) -> datetime:
    # The year as written (in its own offset): 1900..2200 stays far from year 1 and 9999
    # whatever zone it is converted to.
    if not MIN_DATE <= value.date() <= MAX_DATE:
        raise PydanticCustomError(
            "datetime_out_of_range", "must be a time from {range}", {"range": _RANGE_TEXT}
        )
    return value


SafeDate = Annotated[
    date,
    AfterValidator(_date_in_range),
    Field(json_schema_extra=_DATE_BOUNDS),
]
SafeDateTime = Annotated[
    datetime,
    AfterValidator(_datetime_in_range),
    Field(json_schema_extra=_DATETIME_BOUNDS),
]
SafeAwareDateTime = Annotated[
    AwareDatetime,
    AfterValidator(_datetime_in_range),
    Field(json_schema_extra=_DATETIME_BOUNDS),
]


_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_or_datetime(value: object) -> date | datetime:
    # One validator rather than a union: a union of datetime and date parsed "2026-01-05" as
    # a datetime (midnight), and its errors named the union's members, not the field.
    if isinstance(value, date):  # a datetime is a date too
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            if _DATE_ONLY.fullmatch(text):
                parsed = date.fromisoformat(text)
            else:
                parsed = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise PydanticCustomError(
                "date_or_datetime", "must be a date (YYYY-MM-DD) or an ISO 8601 time"
            ) from None
    else:
        raise PydanticCustomError("date_or_datetime", "must be a date or an ISO 8601 time")
    day = parsed.date() if isinstance(parsed, datetime) else parsed
    if not MIN_DATE <= day <= MAX_DATE:
        raise PydanticCustomError(
            "date_out_of_range", "must be a date or time from {range}", {"range": _RANGE_TEXT}
        )
    return parsed


SafeDateOrDateTime = Annotated[
    date | datetime,
    PlainValidator(_date_or_datetime),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time", **_DATETIME_BOUNDS},
                {"type": "string", "format": "date", **_DATE_BOUNDS},
            ]
        }
    ),
]
"""A day (``date``) or an instant (``datetime``, naive or with its zone), years 1900-2200."""


def date_in_range(value: date) -> bool:
    """Whether a stored date is one the API would accept (older rows may not be)."""
    return MIN_DATE <= value <= MAX_DATE


# Friendlier words for what pydantic says about the rules above (the error handler uses
# them): "String should match pattern '^[^\u0000]*$'" tells a client little.
NUL_MESSAGE = "must not contain a NUL character (\\u0000)"
UNICODE_MESSAGE = "must be valid Unicode text (no lone surrogates such as \\ud800)"


def validation_message(error: dict[str, Any]) -> str | None:
    """Our own message for a pydantic error about these inputs, else None."""
    kind = error.get("type")
    if (
        kind == "string_pattern_mismatch"
        and (error.get("ctx") or {}).get("pattern") == NO_NUL_PATTERN
    ):
        return NUL_MESSAGE
    if kind == "string_unicode":
        return UNICODE_MESSAGE
    return None


def _nul_field(scope: Scope) -> str | None:
    """The name of the first query parameter (or the path) that carries a NUL."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None  # the common case costs one byte search
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        # latin-1 keeps each byte one character: a NUL is found whatever the encoding.
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "\\u0000") or "query"
    return "query"


class TextGuardMiddleware:
    """Refuse a NUL character in the path or in any query parameter with 422
    ``validation_error`` naming the parameter, before any route (or a database) sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            field = _nul_field(scope)
            if field is not None:
                response = JSONResponse(
                    error_body(
                        "validation_error",
                        f"Invalid request: {field}: {NUL_MESSAGE}",
                        fields=[{"field": field, "message": NUL_MESSAGE}],
                    ),
                    status_code=422,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _declare_on_parameters(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("query", "path"):
                    _declare_on_schema(parameter.get("schema", {}))
    return document


def _declare_on_schema(schema: dict[str, Any]) -> None:
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key, []):
            _declare_on_schema(option)
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        _declare_on_schema(schema["items"])
    if (
        schema.get("type") == "string"
        and "pattern" not in schema
        and "enum" not in schema
        and "const" not in schema
        and "format" not in schema  # uuid, date, date-time: their own syntax has no NUL
    ):
        schema["pattern"] = NO_NUL_PATTERN


def declare_text_guard(app: FastAPI) -> None:
    """Declare what :class:`TextGuardMiddleware` enforces in the app's OpenAPI document:
    each free-text query or path parameter gets :data:`NO_NUL_PATTERN`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _declare_on_parameters(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
