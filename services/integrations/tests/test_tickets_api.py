"""The client of the tickets service's internal intake API (intake/tickets_api.py) against
a real tickets service (served on loopback, on the real PostgreSQL and RabbitMQ): made,
made once, reopened, closed, refused, unavailable; and the title and text shaping."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse

from helpdesk_testing.net import serve_http
from integrations.intake.tickets_api import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    IntakeRefused,
    Made,
    TicketClosed,
    TicketsUnavailable,
    add_comment,
    create_ticket,
    shape_description,
    shape_title,
)
from integrations.runtime import IntegrationsRuntime

from .conftest import TicketsService, World, running_integrations


@pytest.fixture(scope="module")
async def world(
    tickets: TicketsService, make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[World]:
    async with running_integrations(make_settings, make_token, tickets_url=tickets.url) as w:
        yield w


def source() -> str:
    return f"mail:{uuid.uuid4()}:<{uuid.uuid4().hex}@example.com>"


async def new_ticket(
    runtime: IntegrationsRuntime, tickets: TicketsService, **fields: Any
) -> tuple[Made, dict[str, Any]]:
    values: dict[str, Any] = {
        "source_key": source(),
        "channel": "email",
        "requester_id": None,
        "unit_id": await tickets.unit(),
        "category_id": tickets.category_id,
        "title": shape_title("Printer macet di ruang rapat"),
        "description": shape_description("Kertas tersangkut dan lampu merah berkedip."),
        "sender_name": "Budi <budi@example.com>",
        "contact_name": "Budi",
        "contact_email": "budi@example.com",
    }
    values.update(fields)
    return await create_ticket(runtime, **values), values


async def test_an_unknown_senders_ticket_is_made_once(world: World, tickets: TicketsService):
    made, values = await new_ticket(world.runtime, tickets)
    assert made.created is True and made.status == "new"
    assert made.comment_id is None and made.reopened is False
    stored = await tickets.ticket(made.ticket_id)
    assert stored["number"] == made.number
    assert (stored["created_by_role"], stored["created_by_name"]) == (
        "system",
        "Budi <budi@example.com>",
    )
    assert (stored["channel"], stored["contact_email"], stored["unit_id"]) == (
        "email",
        "budi@example.com",
        values["unit_id"],
    )
    again = await create_ticket(world.runtime, **values)
    assert again == Made(made.ticket_id, made.number, "new", created=False)


async def test_a_known_requester_is_the_tickets_requester(world: World, tickets: TicketsService):
    unit = await tickets.unit()
    requester = await tickets.user("requester", unit_id=unit, name="Rina")
    made, _ = await new_ticket(
        world.runtime, tickets, requester_id=requester, channel="webhook", contact_name=None
    )
    stored = await tickets.ticket(made.ticket_id)
    assert (stored["requester_id"], stored["created_by_id"], stored["unit_id"]) == (
        requester,
        requester,
        unit,
    )
    assert stored["channel"] == "webhook"


async def test_a_reply_is_a_comment_and_reopens_a_resolved_ticket(
    world: World, tickets: TicketsService
):
    made, _ = await new_ticket(world.runtime, tickets)
    reply: dict[str, Any] = {
        "ticket_ref": made.number,
        "author_id": None,
        "author_name": "Budi",
        "contact": "Budi@Example.com",
        "body": shape_description("Terima kasih, sudah bisa."),
    }
    first = await add_comment(world.runtime, source_key=source(), **reply)
    assert first.created is True and first.comment_id is not None and not first.reopened
    assert first.ticket_id == made.ticket_id
    await tickets.act(made.ticket_id, "claim")
    await tickets.act(made.ticket_id, "resolve", result_summary="Rol kertas dibersihkan")
    key = source()
    reopened = await add_comment(
        world.runtime, source_key=key, **{**reply, "body": "Macet lagi hari ini."}
    )
    assert reopened.reopened is True and reopened.status == "in_progress"
    again = await add_comment(world.runtime, source_key=key, **reply)
    assert again == Made(
        made.ticket_id,
        made.number,
        "in_progress",
        created=False,
        comment_id=reopened.comment_id,
        reopened=True,
    )
    assert (await tickets.ticket(made.ticket_id))["reopen_count"] == 1


async def test_a_reply_to_a_closed_ticket_raises_ticket_closed(
    world: World, tickets: TicketsService
):
    made, _ = await new_ticket(world.runtime, tickets)
    await tickets.act(made.ticket_id, "claim")
    await tickets.act(made.ticket_id, "resolve", result_summary="Selesai")
    await tickets.act(made.ticket_id, "close")
    with pytest.raises(TicketClosed) as raised:
        await add_comment(
            world.runtime,
            source_key=source(),
            ticket_ref=str(made.ticket_id),
            author_id=None,
            author_name="Budi",
            contact="budi@example.com",
            body="Masih rusak",
        )
    assert raised.value.number == made.number


async def test_refusals_carry_status_code_and_field(world: World, tickets: TicketsService):
    with pytest.raises(IntakeRefused) as raised:
        await new_ticket(world.runtime, tickets, category_id=uuid.uuid4())
    assert (raised.value.status, raised.value.code, raised.value.field) == (
        422,
        "unknown_category",
        "category_id",
    )
    made, _ = await new_ticket(world.runtime, tickets)
    with pytest.raises(IntakeRefused) as raised:
        await add_comment(
            world.runtime,
            source_key=source(),
            ticket_ref=made.number,
            author_id=None,
            author_name="Eve",
            contact="eve@example.com",
            body="Halo",
        )
    assert (raised.value.status, raised.value.code) == (403, "not_a_participant")
    with pytest.raises(IntakeRefused) as raised:
        await add_comment(
            world.runtime,
            source_key=source(),
            ticket_ref="TKT-1999-000001",
            author_id=None,
            author_name="Budi",
            contact="budi@example.com",
            body="Halo",
        )
    assert (raised.value.status, raised.value.code) == (404, "ticket_not_found")


async def test_a_wrong_internal_token_is_unavailable_not_refused(
    world: World, tickets: TicketsService
):
    """A deployment's mistake, not the message's: the caller keeps it for later."""
    runtime = world.runtime
    original = runtime.internal.headers.get("X-Internal-Token")
    runtime.internal.headers["X-Internal-Token"] = "not-the-token"
    try:
        with pytest.raises(TicketsUnavailable, match="invalid_internal_token"):
            await new_ticket(runtime, tickets)
    finally:
        runtime.internal.headers["X-Internal-Token"] = original or ""


def answering(status: int, body: Any) -> FastAPI:
    """A server that answers every intake call with ``status`` and ``body``."""
    app = FastAPI()

    @app.post("/internal/intake/{kind}")
    async def answer(kind: str) -> Any:
        if isinstance(body, str):
            return PlainTextResponse(body, status_code=status)
        return JSONResponse(body, status_code=status)

    return app


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, {"error": {"code": "unavailable", "message": "database down"}}),
        (500, "Internal Server Error"),
        (429, {"error": {"code": "too_many_requests", "message": "slow down"}}),
        (201, {"ticket_id": "not a uuid"}),
    ],
)
async def test_a_failing_tickets_service_is_unavailable(
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
    status: int,
    body: Any,
):
    async with (
        serve_http(answering(status, body)) as url,
        running_integrations(make_settings, make_token, tickets_url=url) as w,
    ):
        with pytest.raises(TicketsUnavailable):
            await add_comment(
                w.runtime,
                source_key=source(),
                ticket_ref="TKT-2026-000001",
                author_id=None,
                author_name="Budi",
                contact=None,
                body="Halo",
            )


async def test_an_unreachable_tickets_service_is_unavailable(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
):
    # The conftest's default tickets_url: a free port nobody listens on.
    async with running_integrations(make_settings, make_token) as w:
        with pytest.raises(TicketsUnavailable):
            await create_ticket(
                w.runtime,
                source_key=source(),
                channel="email",
                requester_id=None,
                unit_id=uuid.uuid4(),
                category_id=uuid.uuid4(),
                title="Printer macet",
                description="Kertas tersangkut",
                sender_name="Budi",
            )


# -- shaping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "(tanpa subjek)"),
        ("", "(tanpa subjek)"),
        ("  \t ", "(tanpa subjek)"),
        ("ok", "(tanpa subjek)"),
        ("Re:  Printer\r\n macet\x00\x07", "Re: Printer macet"),
        ("Laptop\u200b rusak", "Laptop rusak"),
    ],
)
def test_titles_are_one_line_of_three_to_two_hundred_characters(text: Any, expected: str):
    assert shape_title(text) == expected


def test_a_long_title_is_cut_at_a_word():
    title = shape_title("kata " * 100)
    assert len(title) <= TITLE_MAX and title.endswith("kata…")
    assert len(shape_title("x" * 500)) == TITLE_MAX
    assert shape_title("ab", fallback="x") == "x.."


def test_descriptions_keep_lines_and_are_cut_with_a_note():
    assert shape_description("Baris satu\r\nBaris\x00 dua\r\n\tmenjorok") == (
        "Baris satu\nBaris dua\n\tmenjorok"
    )
    assert shape_description(" \n ") == "(kosong / empty)"
    long = shape_description("a" * 20_000)
    assert len(long) == DESCRIPTION_MAX and long.endswith("dipotong / truncated]")
