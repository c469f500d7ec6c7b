"""The skeleton's small parts on their own: domain errors at the edge, keyset cursors, the
body-size limit and after-commit wake-ups (the last on a real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_common.aftercommit import Wakeup, after_commit
from helpdesk_common.db import create_engine, create_sessionmaker
from helpdesk_common.edge import ServiceEdgeMiddleware
from helpdesk_common.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleVersion,
    TooManyRequests,
    Unauthenticated,
    install_error_handlers,
    status_of,
)
from helpdesk_common.pagination import (
    cursor_datetime,
    cursor_int,
    cursor_uuid,
    decode_cursor,
    encode_cursor,
    page_of,
)
from helpdesk_common.settings import ServiceSettings

# -- domain errors ----------------------------------------------------------------------


class TicketGone(NotFound):
    """A service's own, more specific kind keeps its family's status."""


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("not_found", "x"), 404),
        (TicketGone("gone", "x"), 404),
        (PermissionDenied("forbidden", "x"), 403),
        (InvalidInput("invalid", "x", field="title"), 422),
        (Conflict("conflict", "x"), 409),
        (StaleVersion("version_mismatch", "x"), 412),
        (Unauthenticated("invalid_credentials", "x"), 401),
        (TooManyRequests("too_many_attempts", "x", retry_after=30), 429),
        (DomainError("wrong_password", "x"), 400),
    ],
)
def test_each_kind_of_domain_error_has_one_status(error: DomainError, status: int) -> None:
    assert status_of(error) == status


async def test_the_error_handler_turns_domain_errors_into_the_shared_shape() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/invalid")
    async def invalid() -> None:
        raise InvalidInput(
            "unknown_category", "Unknown category", field="category_id", extra={"known": 3}
        )

    @app.get("/throttled")
    async def throttled() -> None:
        raise TooManyRequests("too_many_attempts", "Wait", retry_after=42)

    @app.get("/unauthenticated")
    async def unauthenticated() -> None:
        raise Unauthenticated("invalid_credentials", "Wrong username or password")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        invalid_response = await client.get("/invalid")
        throttled_response = await client.get("/throttled")
        unauthenticated_response = await client.get("/unauthenticated")
    assert invalid_response.status_code == 422
    assert invalid_response.json()["error"] == {
        "code": "unknown_category",
        "message": "Unknown category",
        "fields": [{"field": "category_id", "message": "Unknown category"}],
        "known": 3,
    }
    assert throttled_response.status_code == 429
    assert throttled_response.headers["Retry-After"] == "42"
    assert unauthenticated_response.status_code == 401
    assert unauthenticated_response.headers["WWW-Authenticate"] == "Bearer"


# -- keyset cursors ---------------------------------------------------------------------


def test_a_cursor_round_trips_its_sort_key() -> None:
    at, row_id = datetime(2026, 3, 1, 9, 30, tzinfo=UTC), uuid.uuid4()
    cursor = encode_cursor("tickets:created_at", at, row_id)
    assert decode_cursor(
        cursor, listing="tickets:created_at", parse=(cursor_datetime, cursor_uuid)
    ) == [at, row_id]


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        encode_cursor("users", "Ani", str(uuid.uuid4())),  # another listing
        encode_cursor("tickets", "Ani"),  # too few values
        encode_cursor("tickets", "2026-03-01", 5),  # uuid.UUID(5): AttributeError
        encode_cursor("tickets", "yesterday", str(uuid.uuid4())),
        "W10",  # [] : no listing name
        encode_cursor("tickets", "2026-03-01T09:30:00", "5c1c2a52-1c44-4b8e-9c53-1d0f5e2d7a11"),
    ],
)
def test_a_malformed_or_foreign_cursor_is_a_422_on_field_cursor(cursor: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_cursor(cursor, listing="tickets", parse=(cursor_datetime, cursor_uuid))
    assert raised.value.code == "invalid_cursor"
    assert raised.value.field == "cursor"


@pytest.mark.parametrize("value", [-1, 2**63, True, "7", 1.5])
def test_an_integer_in_a_cursor_must_fit_a_bigint_id(value: object) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(encode_cursor("seq", value), listing="seq", parse=(cursor_int,))


def test_a_page_has_a_next_cursor_only_when_more_rows_follow() -> None:
    rows = list(range(11))
    page, cursor = page_of(rows, limit=10, cursor_after=lambda row: f"after-{row}")
    assert (page, cursor) == (list(range(10)), "after-9")
    page, cursor = page_of(rows[:10], limit=10, cursor_after=lambda row: f"after-{row}")
    assert (page, cursor) == (list(range(10)), None)


# -- body-size limit --------------------------------------------------------------------


async def test_bodies_over_the_limit_are_refused_before_they_are_read() -> None:
    app = FastAPI()
    received: list[int] = []

    @app.post("/echo")
    async def echo(body: dict[str, str]) -> dict[str, int]:
        received.append(len(body["text"]))
        return {"length": len(body["text"])}

    app.add_middleware(ServiceEdgeMiddleware, max_body_bytes=100)
    transport = httpx.ASGITransport(app=app)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(20):
            yield b"x" * 10
        yield b'"}'

    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        small = await client.post("/echo", json={"text": "kecil"})
        declared = await client.post("/echo", json={"text": "x" * 200})
        chunked = await client.post(
            "/echo", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert small.status_code == 200
    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "body_too_large"
        assert "100 bytes" in response.json()["error"]["message"]
    assert received == [5]


# -- after-commit wake-ups --------------------------------------------------------------


@pytest.fixture(scope="module")
async def sessionmaker(make_settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(make_settings(ServiceSettings, schema="public"))
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_after_commit_runs_once_after_the_commit_and_never_on_rollback(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    calls: list[str] = []

    def committed() -> None:
        calls.append("committed")

    async with sessionmaker() as session:
        async with session.begin():
            await session.execute(sa.text("SELECT 1"))
            after_commit(session, committed, on_rollback=lambda: calls.append("rolled back"))
            after_commit(session, committed)  # registered twice, runs once
            assert calls == []
        assert calls == ["committed"]

        with pytest.raises(RuntimeError):
            async with session.begin():
                after_commit(session, committed, on_rollback=lambda: calls.append("rolled back"))
                raise RuntimeError("the unit of work fails")
        assert calls == ["committed", "rolled back"]

        # Nothing is left over for the next transaction.
        async with session.begin():
            await session.execute(sa.text("SELECT 1"))
        assert calls == ["committed", "rolled back"]


async def test_a_wakeup_wakes_its_waiters_after_the_commit_only(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    wakeup = Wakeup("test")
    with wakeup.waiter() as waiter:
        async with sessionmaker() as session:
            with pytest.raises(RuntimeError):
                async with session.begin():
                    wakeup.after_commit(session)
                    raise RuntimeError("rolled back")
            assert not waiter.is_set()
            async with session.begin():
                wakeup.after_commit(session)
                assert not waiter.is_set()
            await asyncio.wait_for(waiter.wait(), timeout=1)
    waiter.clear()
    wakeup.notify()  # no longer subscribed
    assert not waiter.is_set()
