"""helpdesk_common.inputs: the shared input types refuse what PostgreSQL cannot store (NUL,
lone surrogates, dates past conversion, integers past their column) with a 422 naming the
field, and declare it in the OpenAPI document; the guard does the same for every query
parameter and path."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError

from helpdesk_common.edge import ServiceEdgeMiddleware
from helpdesk_common.errors import InvalidInput, install_error_handlers
from helpdesk_common.inputs import (
    DATE_PATTERN,
    DATETIME_PATTERN,
    INT4_MAX,
    NO_NUL_PATTERN,
    NUL_MESSAGE,
    UNICODE_MESSAGE,
    PositiveInt4,
    SafeAwareDateTime,
    SafeDate,
    SafeDateOrDateTime,
    SafeDateTime,
    SafeText,
    declare_text_guard,
)
from helpdesk_common.pagination import (
    cursor_datetime,
    cursor_int4,
    cursor_text,
    decode_cursor,
    encode_cursor,
)
from helpdesk_testing.inputs import unguarded_inputs

Title = Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=3, max_length=20)]


class Body(BaseModel):
    title: Title
    tags: dict[SafeText, SafeText] = {}
    day: SafeDate | None = None
    at: SafeDateTime | None = None
    version: PositiveInt4 | None = None


class Loose(BaseModel):
    name: str
    count: int
    day: date
    at: datetime


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(ServiceEdgeMiddleware, max_body_bytes=1_000_000)
    install_error_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, Any]:
        return body.model_dump(mode="json")

    @app.get("/days")
    async def days(
        since: Annotated[SafeAwareDateTime | None, Query()] = None,
        day: Annotated[SafeDate | None, Query()] = None,
        n: Annotated[int, Query(ge=1, le=10)] = 1,
    ) -> list[str | int | None]:
        return [since.isoformat() if since else None, day.isoformat() if day else None, n]

    @app.get("/things/{name}")
    async def read(name: str, q: Annotated[str | None, Query(max_length=50)] = None) -> str:
        return f"{name}:{q}"

    declare_text_guard(app)
    return app


@pytest.fixture
async def client() -> Any:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return {f["field"]: f["message"] for f in error["fields"]}


def test_safe_text_keeps_other_constraints_and_refuses_nul_and_surrogates() -> None:
    title = TypeAdapter(Title)
    assert title.validate_python("  Printer rusak  ") == "Printer rusak"
    assert title.validate_python("Rusak 📄\nlagi") == "Rusak 📄\nlagi"
    for bad in ("ab\x00cd", "ab\ud800cd", " a "):
        with pytest.raises(ValidationError):
            title.validate_python(bad)
    assert title.json_schema()["pattern"] == NO_NUL_PATTERN


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1900-01-01", True),
        ("2200-12-31", True),
        ("0001-01-01", False),
        ("9999-12-31", False),
        ("1899-12-31", False),
    ],
)
def test_safe_date_range(value: str, ok: bool) -> None:
    adapter = TypeAdapter(SafeDate)
    if ok:
        assert adapter.validate_python(value) == date.fromisoformat(value)
    else:
        with pytest.raises(ValidationError, match=r"must be a date \(YYYY-MM-DD\) from 1900-01-01"):
            adapter.validate_python(value)


def test_safe_datetime_range_is_checked_before_any_zone_conversion() -> None:
    adapter = TypeAdapter(SafeDateTime)
    assert adapter.validate_python("2200-12-31T23:59:59-12:00").year == 2200
    for bad in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"):
        with pytest.raises(ValidationError, match="must be an ISO 8601 time"):
            adapter.validate_python(bad)
    schema = adapter.json_schema()
    assert (schema["format"], schema["formatMinimum"]) == ("date-time", "1900-01-01T00:00:00Z")
    assert schema["pattern"] == DATETIME_PATTERN


@pytest.mark.parametrize(
    "kind", [SafeDate, SafeDateTime, SafeAwareDateTime, SafeDateOrDateTime], ids=str
)
@pytest.mark.parametrize("value", [0, 0.5, 1767225600, "0", "0.5", "1767225600", True, "20260105"])
def test_a_number_is_not_a_date(kind: Any, value: object) -> None:
    # pydantic's lax mode took these as UNIX times (1970-01-01 for 0).
    with pytest.raises(ValidationError):
        TypeAdapter(kind).validate_python(value)


def test_the_date_range_is_declared_as_a_pattern() -> None:
    date_text, datetime_text = re.compile(DATE_PATTERN), re.compile(DATETIME_PATTERN)
    for year, ok in (("1899", False), ("1900", True), ("2026", True), ("2200", True)):
        assert bool(date_text.match(f"{year}-01-01")) is ok
        assert bool(datetime_text.match(f"{year}-01-01T00:00:00Z")) is ok
    for year in ("2201", "2999", "0001", "9999", "12026"):
        assert not date_text.match(f"{year}-01-01")
    assert not date_text.match("2026-01-05T00:00:00Z")
    assert not datetime_text.match("2026-01-05")
    either = TypeAdapter(SafeDateOrDateTime).json_schema()["anyOf"]
    assert {s["pattern"] for s in either} == {DATE_PATTERN, DATETIME_PATTERN}


async def test_a_nul_or_a_lone_surrogate_in_a_body_is_a_422_naming_the_field(client) -> None:
    ok = await client.post("/things", json={"title": "Printer", "tags": {"a": "b"}})
    assert ok.status_code == 200, ok.text

    nul = await client.post("/things", json={"title": "Prin\x00ter"})
    assert fields(nul) == {"title": NUL_MESSAGE}
    # JSON may spell a lone surrogate; the text it makes cannot be stored.
    raw = json.dumps({"title": "Prin\ud800ter"})
    assert "\\ud800" in raw
    surrogate = await client.post(
        "/things", content=raw, headers={"Content-Type": "application/json"}
    )
    assert fields(surrogate) == {"title": UNICODE_MESSAGE}
    key = await client.post("/things", json={"title": "Printer", "tags": {"a\x00": "b"}})
    assert "tags.a\x00.[key]" in fields(key)
    value = await client.post("/things", json={"title": "Printer", "tags": {"a": "\x00"}})
    assert fields(value) == {"tags.a": NUL_MESSAGE}


async def test_dates_and_integers_out_of_range_are_a_422(client) -> None:
    assert set(
        fields(await client.post("/things", json={"title": "abc", "day": "0001-01-01"}))
    ) == {"day"}
    assert set(
        fields(
            await client.post("/things", json={"title": "abc", "at": "9999-12-31T23:59:59-12:00"})
        )
    ) == {"at"}
    assert set(
        fields(await client.post("/things", json={"title": "abc", "version": INT4_MAX + 1}))
    ) == {"version"}
    ok = await client.post("/things", json={"title": "abc", "version": INT4_MAX})
    assert ok.status_code == 200, ok.text


async def test_body_integers_are_strict_and_dates_are_iso_text(client) -> None:
    # Lax mode took false as 0, true as 1, "5" as 5 and a number as a UNIX time.
    for version in (True, False, "5", 5.5):
        body = {"title": "abc", "version": version}
        assert set(fields(await client.post("/things", json=body))) == {"version"}
    for day in (0, "0", 1767225600.5):
        body = {"title": "abc", "day": day}
        assert set(fields(await client.post("/things", json=body))) == {"day"}
    ok = await client.post("/things", json={"title": "abc", "version": 5, "day": "2026-01-05"})
    assert ok.json()["version"] == 5, ok.text
    # JSON Schema's integer: 5.0 is one (a generated client may send it).
    ok = await client.post("/things", json={"title": "abc", "version": 5.0})
    assert ok.json()["version"] == 5, ok.text


async def test_query_dates_are_iso_text_and_query_integers_still_text(client) -> None:
    assert set(fields(await client.get("/days?since=0"))) == {"since"}
    assert set(fields(await client.get("/days?day=0.5"))) == {"day"}
    ok = await client.get("/days?since=2026-01-05T08:00:00%2B07:00&day=2026-01-05&n=3")
    assert ok.json() == ["2026-01-05T08:00:00+07:00", "2026-01-05", 3], ok.text


async def test_the_guard_refuses_nul_in_any_query_parameter_and_the_path(client) -> None:
    assert (await client.get("/things/printer?q=rusak")).json() == "printer:rusak"
    assert fields(await client.get("/things/printer?q=a%00b")) == {"q": NUL_MESSAGE}
    # Also a parameter no route declares, and one that is repeated.
    assert fields(await client.get("/things/printer?q=a&x=%00")) == {"x": NUL_MESSAGE}
    assert set(fields(await client.get("/things/print%00er"))) == {"path"}
    # Percent-decoding replaces invalid UTF-8 (no lone surrogate can arrive this way).
    assert (await client.get("/things/printer?q=%ED%A0%80")).status_code == 200


def test_the_guard_is_declared_in_the_openapi_document() -> None:
    document = make_app().openapi()
    parameters = {
        p["name"]: p["schema"] for p in document["paths"]["/things/{name}"]["get"]["parameters"]
    }
    assert parameters["name"]["pattern"] == NO_NUL_PATTERN
    assert parameters["q"]["anyOf"][0]["pattern"] == NO_NUL_PATTERN
    assert unguarded_inputs(document) == []


def test_unguarded_inputs_names_what_is_missing() -> None:
    app = FastAPI()

    @app.post("/loose")
    async def loose(body: Loose, page: int = 1) -> None:
        return None

    assert sorted(unguarded_inputs(app.openapi())) == [
        "POST /loose body.at (date-time without bounds)",
        "POST /loose body.count (integer without bounds)",
        "POST /loose body.day (date without bounds)",
        "POST /loose body.name (text without a pattern)",
        "POST /loose query:page (integer without bounds)",
    ]


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (cursor_text, "a\x00b"),
        (cursor_text, "a\ud800b"),
        (cursor_int4, INT4_MAX + 1),
        (cursor_datetime, "0001-01-01T00:00:00+14:00"),
        (cursor_datetime, "9999-12-31T23:59:59-12:00"),
    ],
)
def test_a_cursor_carrying_what_the_database_cannot_take_is_invalid(parse, value) -> None:
    cursor = encode_cursor("things", value)
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(cursor, listing="things", parse=[parse])
    assert caught.value.code == "invalid_cursor"
    assert decode_cursor(encode_cursor("things", INT4_MAX), listing="things", parse=[cursor_int4])


def test_a_cursor_may_carry_a_far_future_sort_key() -> None:
    # The ticket list sorts a ticket without a due date as 9999-12-31 (UTC).
    far = datetime(9999, 12, 31, tzinfo=UTC)
    assert decode_cursor(encode_cursor("due", far), listing="due", parse=[cursor_datetime]) == [far]
