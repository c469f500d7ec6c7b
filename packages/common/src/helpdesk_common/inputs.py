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
- **Text in a query string or path**: :func:`nul_refusal` (asked by the app factory's request
  layer, :mod:`helpdesk_common.edge`) refuses NUL in any query parameter (name or value) and
  in the path, for every route at once; :func:`declare_text_guard` declares it as the same
  pattern on each string parameter of the OpenAPI document.
  (Percent-decoding replaces invalid UTF-8, so no lone surrogate can come this way.)
- **Dates and instants**: :data:`SafeDate` and :data:`SafeDateTime` stay within
  :data:`MIN_DATE` .. :data:`MAX_DATE` (years 1900-2200: any office's dates, and far from
  the ends of Python's and PostgreSQL's ranges in every time zone), and are ISO 8601 text
  only: pydantic's lax mode took a number (``0``, ``"0.5"``) as a UNIX time. The year range
  is declared as a ``pattern`` too (:data:`DATE_PATTERN`), which clients and generators
  read (``formatMinimum``/``formatMaximum`` are ajv's vocabulary, widely ignored).
- **Integers**: :data:`Int4` / :data:`PositiveInt4` fit an ``integer`` column (serial ids,
  versions), :data:`Int8` a ``bigint``. They are for request bodies, built on
  :data:`JSON_INTEGER`: JSON Schema's ``integer`` (``5`` or ``5.0``; ``false`` is not 0 and
  ``"5"`` is not 5, as pydantic's lax mode had it); a query parameter is text, so it keeps
  ``int`` with ``Query(ge=..., le=...)``.

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
    BeforeValidator,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from starlette.types import Scope

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


def _json_integer(value: object) -> object:
    # JSON Schema's integer: a number without a fraction (5 or 5.0), never a boolean or a
    # string, which pydantic's lax mode took (false as 0, "5" as 5). Strict mode would
    # refuse 5.0, which the schema allows. Fractions are refused by pydantic after this.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "must be an integer (a JSON number)")
    return value


JSON_INTEGER = BeforeValidator(_json_integer)
"""For an integer of a request body (JSON), as JSON Schema's ``integer``, after its bounds:
``Annotated[int, Field(ge=0, le=10), JSON_INTEGER]`` (bounds outside a validator are left
out of the JSON schema). Not for a query parameter: that is text, which ``int`` with
``Query(ge=..., le=...)`` reads."""

Int4 = Annotated[int, Field(ge=-INT4_MAX - 1, le=INT4_MAX), JSON_INTEGER]
PositiveInt4 = Annotated[int, Field(ge=1, le=INT4_MAX), JSON_INTEGER]
"""A serial id or a version number: an ``integer`` column, from 1."""
NonNegativeInt4 = Annotated[int, Field(ge=0, le=INT4_MAX), JSON_INTEGER]
Int8 = Annotated[int, Field(ge=-INT8_MAX - 1, le=INT8_MAX), JSON_INTEGER]
PositiveInt8 = Annotated[int, Field(ge=1, le=INT8_MAX), JSON_INTEGER]


MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2200, 12, 31)
_RANGE_TEXT = f"{MIN_DATE.isoformat()} .. {MAX_DATE.isoformat()}"
# ``formatMinimum``/``formatMaximum``: the JSON Schema vocabulary for bounds of a date
# format (ajv-formats); JSON Schema's own minimum/maximum are for numbers only.
#
# The same range as a pattern (years 1900-2200), which generators and clients read: a date
# is exactly YYYY-MM-DD; an instant starts with its date and a "T" (RFC 3339; the rest is
# left to the format). ``[0-9]``, not ``\d``: ECMA 262 and Python differ on what a digit is.
_YEAR = r"(19[0-9]{2}|2[01][0-9]{2}|2200)"
DATE_PATTERN = rf"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}$"
DATETIME_PATTERN = rf"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}[Tt]"
_DATE_TEXT = re.compile(DATE_PATTERN)
_DATETIME_TEXT = re.compile(DATETIME_PATTERN)
_DATE_BOUNDS: dict[str, Any] = {
    "formatMinimum": MIN_DATE.isoformat(),
    "formatMaximum": MAX_DATE.isoformat(),
    "pattern": DATE_PATTERN,
}
_DATETIME_BOUNDS: dict[str, Any] = {
    "formatMinimum": f"{MIN_DATE.isoformat()}T00:00:00Z",
    "formatMaximum": f"{MAX_DATE.isoformat()}T23:59:59Z",
    "pattern": DATETIME_PATTERN,
}


def date_in_range(value: date) -> bool:
    """Whether a stored date is one the API would accept (older rows may not be)."""
    return MIN_DATE <= value <= MAX_DATE


def _date_in_range(value: date) -> date:
    if not date_in_range(value):
        raise PydanticCustomError(
            "date_out_of_range", "must be a date from {range}", {"range": _RANGE_TEXT}
        )
    return value


def _datetime_in_range(value: datetime) -> datetime:
    # The year as written (in its own offset): 1900..2200 stays far from year 1 and 9999
    # whatever zone it is converted to.
    if not date_in_range(value.date()):
        raise PydanticCustomError(
            "datetime_out_of_range", "must be a time from {range}", {"range": _RANGE_TEXT}
        )
    return value


def _date_text(value: object) -> object:
    # Before pydantic's parser, which takes a number or a numeric string as a UNIX time.
    if isinstance(value, date):  # from Python code, not from a request
        return value
    if isinstance(value, str) and _DATE_TEXT.match(value):
        return value
    raise PydanticCustomError(
        "date_text", "must be a date (YYYY-MM-DD) from {range}", {"range": _RANGE_TEXT}
    )


def _datetime_text(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATETIME_TEXT.match(value):
        return value
    raise PydanticCustomError(
        "datetime_text",
        "must be an ISO 8601 time (as 2026-01-05T08:00:00+07:00) from {range}",
        {"range": _RANGE_TEXT},
    )


SafeDate = Annotated[
    date,
    BeforeValidator(_date_text),
    AfterValidator(_date_in_range),
    Field(json_schema_extra=_DATE_BOUNDS),
]
SafeDateTime = Annotated[
    datetime,
    BeforeValidator(_datetime_text),
    AfterValidator(_datetime_in_range),
    Field(json_schema_extra=_DATETIME_BOUNDS),
]
SafeAwareDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_datetime_text),
    AfterValidator(_datetime_in_range),
    Field(json_schema_extra=_DATETIME_BOUNDS),
]


def _date_or_datetime(value: object) -> date | datetime:
    # One validator rather than a union: a union of datetime and date parsed "2026-01-05" as
    # a datetime (midnight), and its errors named the union's members, not the field.
    if isinstance(value, date):  # a datetime is a date too
        parsed = value
    elif isinstance(value, str) and (_DATE_TEXT.match(value) or _DATETIME_TEXT.match(value)):
        # Only what the declared patterns allow: fromisoformat also reads "20260105".
        try:
            parsed = (
                date.fromisoformat(value)
                if len(value) == len("2026-01-05")  # a date (the patterns tell no other)
                else datetime.fromisoformat(value.replace("z", "Z"))
            )
        except ValueError:
            raise PydanticCustomError(
                "date_or_datetime", "must be a date (YYYY-MM-DD) or an ISO 8601 time"
            ) from None
    else:
        raise PydanticCustomError(
            "date_or_datetime",
            "must be a date (YYYY-MM-DD) or an ISO 8601 time from {range}",
            {"range": _RANGE_TEXT},
        )
    day = parsed.date() if isinstance(parsed, datetime) else parsed
    if not date_in_range(day):
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


def nul_refusal(scope: Scope) -> JSONResponse | None:
    """The 422 ``validation_error`` naming the parameter for a NUL in the request's path or
    query, or None when there is none: the app factory's one request layer
    (:mod:`helpdesk_common.edge`) answers it before any route (or a database) sees the
    text."""
    field = _nul_field(scope)
    if field is None:
        return None
    return JSONResponse(
        error_body(
            "validation_error",
            f"Invalid request: {field}: {NUL_MESSAGE}",
            fields=[{"field": field, "message": NUL_MESSAGE}],
        ),
        status_code=422,
    )


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
    """Declare what :func:`nul_refusal` enforces in the app's OpenAPI document:
    each free-text query or path parameter gets :data:`NO_NUL_PATTERN`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _declare_on_parameters(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
