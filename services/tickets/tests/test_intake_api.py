"""The internal intake API (issue 14): tickets and comments from mail and chat, made once
per source key, as the sender the directory knows or under the sender's name."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import sqlalchemy as sa

from helpdesk_common.outbox import outbox_table
from helpdesk_testing import app_client
from helpdesk_testing.migrations import model_differences
from tickets.intake.service import INTAKE_ACTOR_ID
from tickets.main import create_app
from tickets.models import metadata
from tickets.settings import TicketsSettings

INTERNAL_TOKEN = "internal-test-token-0123456789"
WORLD_SETTINGS = {"internal_token": INTERNAL_TOKEN}
INTERNAL = {"X-Internal-Token": INTERNAL_TOKEN}
TICKETS = "/internal/intake/tickets"
COMMENTS = "/internal/intake/comments"


def key() -> str:
    return f"mail:{uuid.uuid4()}:<{uuid.uuid4().hex}@example.com>"


async def ticket_body(world, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source_key": key(),
        "channel": "email",
        "requester_id": None,
        "unit_id": str(await world.unit()),
        "category_id": await world.category_id(),
        "title": "Laptop tidak bisa menyala",
        "description": "Sejak pagi laptop di ruang arsip tidak mau menyala.",
        "sender_name": "Budi <budi@example.com>",
        "contact_name": "Budi",
        "contact_email": "budi@example.com",
        "contact_phone": None,
    }
    body.update(fields)
    return body


async def intake(world, path: str, body: dict[str, Any], headers=INTERNAL) -> Any:
    return await world.client.post(path, json=body, headers=headers)


async def made(world, **fields: Any) -> dict[str, Any]:
    response = await intake(world, TICKETS, await ticket_body(world, **fields))
    assert response.status_code == 201, response.text
    return response.json()


async def read(world, who, ticket_id: str, suffix: str = "") -> Any:
    response = await world.client.get(f"/tickets/{ticket_id}{suffix}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def count_rows(world, sql: str, **params: Any) -> int:
    async with world.app.state.runtime.sessionmaker() as session:
        return int((await session.execute(sa.text(sql), params)).scalar_one())


async def tickets_of_unit(world, unit_id: str) -> int:
    return await count_rows(world, "SELECT count(*) FROM tickets WHERE unit_id = :u", u=unit_id)


async def events_for(world, ticket_id: str) -> list[dict[str, Any]]:
    async with world.app.state.runtime.sessionmaker() as session:
        bodies = (
            await session.scalars(sa.select(outbox_table.c.body).order_by(outbox_table.c.position))
        ).all()
    events = [json.loads(body) for body in bodies]
    return [e for e in events if e["payload"].get("ticket", {}).get("ticket_id") == str(ticket_id)]


# -- tickets ----------------------------------------------------------------------------


async def test_a_known_requester_gets_a_ticket_of_their_own_unit_in_their_name(world):
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit, name="Rina Wati")
    agent = await world.person("agent")
    body = await ticket_body(world, requester_id=str(requester.user_id), contact_name=None)
    response = await intake(world, TICKETS, body)
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["created"] is True and out["status"] == "new"
    assert out["comment_id"] is None and out["reopened"] is False
    ticket = await read(world, requester, out["ticket_id"])  # they see it: their unit's
    assert ticket["number"] == out["number"]
    assert ticket["unit_id"] == str(unit)  # not the channel's default unit
    assert ticket["requester_id"] == str(requester.user_id)
    assert ticket["created_by_id"] == str(requester.user_id)
    assert ticket["created_by_name"] == "Rina Wati"
    assert ticket["contact_name"] == "Rina Wati"
    assert ticket["channel"] == "email"
    assert ticket["priority"]  # by the rules
    timeline = await read(world, agent, out["ticket_id"], "/timeline")
    first = timeline[0] if isinstance(timeline, list) else timeline["items"][0]
    assert (first["kind"], first["actor_name"], first["actor_role"]) == (
        "created",
        "Rina Wati",
        "requester",
    )
    events = await events_for(world, out["ticket_id"])
    assert [e["event_type"] for e in events] == ["ticket.created"]
    assert events[0]["payload"]["actor"]["role"] == "requester"


async def test_an_unknown_sender_gets_a_ticket_of_the_channels_unit_made_by_the_system(world):
    agent = await world.person("agent")
    body = await ticket_body(world, channel="webhook", contact_phone="+62 812-3456-7890")
    out = await made(world, **body)
    ticket = await read(world, agent, out["ticket_id"])
    assert ticket["unit_id"] == body["unit_id"]
    assert ticket["requester_id"] is None and ticket["requester_name"] is None
    assert ticket["created_by_id"] == str(INTAKE_ACTOR_ID)
    assert ticket["created_by_name"] == "Budi <budi@example.com>"
    assert (ticket["contact_name"], ticket["contact_email"], ticket["contact_phone"]) == (
        "Budi",
        "budi@example.com",
        "+62 812-3456-7890",
    )
    assert ticket["channel"] == "webhook"
    timeline = await read(world, agent, out["ticket_id"], "/timeline")
    first = timeline[0] if isinstance(timeline, list) else timeline["items"][0]
    assert (first["kind"], first["actor_name"], first["actor_role"]) == (
        "created",
        "Budi <budi@example.com>",
        "system",
    )
    (event,) = await events_for(world, out["ticket_id"])
    assert event["event_type"] == "ticket.created"
    assert event["payload"]["actor"] == {
        "user_id": str(INTAKE_ACTOR_ID),
        "name": "Budi <budi@example.com>",
        "role": "system",
    }
    # The ticket lists like any other (the list reads the same columns), its submission
    # form renders, and read models get its snapshot.
    listed = await world.client.get(
        "/tickets", params={"unit_id": body["unit_id"]}, headers=agent.headers
    )
    assert listed.status_code == 200, listed.text
    assert [t["id"] for t in listed.json()["items"]] == [out["ticket_id"]]
    form = await world.client.get(
        f"/tickets/{out['ticket_id']}/documents/submission-form.pdf", headers=agent.headers
    )
    assert form.status_code == 200, form.text
    assert form.content.startswith(b"%PDF")
    snapshot = await world.client.get(
        f"/internal/ticket-snapshots/{out['ticket_id']}", headers=INTERNAL
    )
    assert snapshot.status_code == 200, snapshot.text
    assert snapshot.json()["number"] == out["number"]


async def test_a_staff_sender_files_for_the_channels_unit(world):
    agent = await world.person("agent", name="Bayu")
    out = await made(world, requester_id=str(agent.user_id), contact_name=None)
    ticket = await read(world, agent, out["ticket_id"])
    assert ticket["created_by_id"] == str(agent.user_id)
    assert ticket["requester_id"] is None  # not a member of the channel's unit
    assert ticket["contact_name"] == "Bayu"


async def test_a_repeated_source_key_returns_the_first_ticket_forever(world):
    body = await ticket_body(world)
    first = await intake(world, TICKETS, body)
    assert first.status_code == 201, first.text
    again = await intake(world, TICKETS, {**body, "title": "Another subject entirely"})
    assert again.status_code == 200, again.text
    assert again.json() == {**first.json(), "created": False}
    assert (
        await count_rows(
            world, "SELECT count(*) FROM tickets WHERE unit_id = :u", u=body["unit_id"]
        )
        == 1
    )


async def test_concurrent_requests_with_one_key_make_one_ticket(world):
    body = await ticket_body(world)
    responses = await asyncio.gather(*(intake(world, TICKETS, body) for _ in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201], [r.text for r in responses]
    assert len({r.json()["ticket_id"] for r in responses}) == 1
    assert (
        await count_rows(
            world, "SELECT count(*) FROM tickets WHERE unit_id = :u", u=body["unit_id"]
        )
        == 1
    )
    created = [e for e in await events_for(world, responses[0].json()["ticket_id"])]
    assert [e["event_type"] for e in created] == ["ticket.created"]


async def test_bad_input_is_refused_with_its_field_and_leaves_the_key_unused(world):
    body = await ticket_body(world)
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"category_id": str(uuid.uuid4())}, 422, "unknown_category", "category_id"),
        ({"unit_id": str(uuid.uuid4())}, 422, "unknown_unit", "unit_id"),
        ({"requester_id": str(uuid.uuid4())}, 422, "unknown_requester", "requester_id"),
        ({"title": "ab"}, 422, "validation_error", "title"),
        ({"description": ""}, 422, "validation_error", "description"),
        ({"channel": "web"}, 422, "validation_error", "channel"),
        ({"contact_email": "not-an-address"}, 422, "validation_error", "contact_email"),
        ({"title": "Printer\u0000rusak"}, 422, "validation_error", "title"),
        ({"source_key": ""}, 422, "validation_error", "source_key"),
        ({"surprise": 1}, 422, "validation_error", "surprise"),
    ]
    for change, status, code, field in cases:
        response = await intake(world, TICKETS, {**body, **change})
        assert response.status_code == status, (change, response.text)
        error = response.json()["error"]
        assert error["code"] == code, (change, error)
        assert field in {f["field"].split(".")[-1] for f in error.get("fields", [])}, error
    missing = {k: v for k, v in body.items() if k != "unit_id"}
    response = await intake(world, TICKETS, missing)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["unit_id"]
    # None of them used the key: the good request makes the ticket.
    response = await intake(world, TICKETS, body)
    assert response.status_code == 201, response.text


async def test_an_inactive_unit_is_refused(world):
    inactive = await world.unit(active=False)
    response = await intake(world, TICKETS, await ticket_body(world, unit_id=str(inactive)))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "unit_id"


async def test_the_intake_needs_the_internal_token(world):
    body = await ticket_body(world)
    for headers in ({}, {"X-Internal-Token": "wrong"}):
        for path in (TICKETS, COMMENTS):
            response = await intake(world, path, body, headers=headers)
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] == "invalid_internal_token"
    # A user's token is no internal token either.
    agent = await world.person("agent")
    response = await intake(world, TICKETS, body, headers=agent.headers)
    assert response.status_code == 401
    assert (
        await count_rows(
            world, "SELECT count(*) FROM intake_sources WHERE source_key = :k", k=body["source_key"]
        )
        == 0
    )


# -- comments ---------------------------------------------------------------------------


def comment_body(ticket: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source_key": key(),
        "ticket_ref": ticket["number"],
        "author_id": None,
        "author_name": "Budi",
        "contact": "budi@example.com",
        "body": "Masih belum bisa menyala, mohon dicek lagi.",
    }
    body.update(fields)
    return body


async def test_a_participant_comments_once_per_source_key(world):
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit, name="Rina")
    ticket = await made(world, requester_id=str(requester.user_id))
    body = comment_body(ticket, author_id=str(requester.user_id), author_name="ignored")
    first = await intake(world, COMMENTS, body)
    assert first.status_code == 201, first.text
    out = first.json()
    assert out["comment_id"] and out["created"] is True and out["reopened"] is False
    again = await intake(world, COMMENTS, {**body, "ticket_ref": ticket["ticket_id"]})
    assert again.status_code == 200, again.text
    assert again.json() == {**out, "created": False}
    comments = await read(world, requester, ticket["ticket_id"], "/comments")
    items = comments if isinstance(comments, list) else comments["items"]
    assert [(c["id"], c["author_name"], c["author_role"], c["internal"]) for c in items] == [
        (out["comment_id"], "Rina", "requester", False)
    ]


async def test_concurrent_comments_with_one_key_make_one_comment(world):
    ticket = await made(world)
    body = comment_body(ticket)
    responses = await asyncio.gather(*(intake(world, COMMENTS, body) for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["comment_id"] for r in responses}) == 1
    assert (
        await count_rows(
            world, "SELECT count(*) FROM comments WHERE ticket_id = :t", t=ticket["ticket_id"]
        )
        == 1
    )


async def test_an_unknown_sender_comments_only_as_the_tickets_contact(world):
    agent = await world.person("agent")
    ticket = await made(world, contact_phone="+62 812-1111-2222")
    refused = await intake(world, COMMENTS, comment_body(ticket, contact="eve@example.com"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "not_a_participant"
    refused = await intake(world, COMMENTS, comment_body(ticket, contact=None))
    assert refused.status_code == 403
    by_mail = await intake(world, COMMENTS, comment_body(ticket, contact="BUDI@Example.COM"))
    assert by_mail.status_code == 201, by_mail.text
    by_phone = await intake(
        world, COMMENTS, comment_body(ticket, contact="6281211112222", author_name="Budi WA")
    )
    assert by_phone.status_code == 201, by_phone.text
    comments = await read(world, agent, ticket["ticket_id"], "/comments")
    items = comments if isinstance(comments, list) else comments["items"]
    assert [(c["author_id"], c["author_name"], c["author_role"]) for c in items] == [
        (str(INTAKE_ACTOR_ID), "Budi", "system"),
        (str(INTAKE_ACTOR_ID), "Budi WA", "system"),
    ]


async def test_a_requester_of_another_unit_is_not_a_participant(world):
    outsider = await world.person("requester", unit_id=await world.unit())
    leader = await world.person("leader")
    ticket = await made(world)
    for who in (outsider, leader):
        response = await intake(
            world, COMMENTS, comment_body(ticket, author_id=str(who.user_id), contact=None)
        )
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "not_a_participant"
    response = await intake(world, COMMENTS, comment_body(ticket, author_id=str(uuid.uuid4())))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "author_id"
    agent = await world.person("agent")  # staff: any ticket
    response = await intake(world, COMMENTS, comment_body(ticket, author_id=str(agent.user_id)))
    assert response.status_code == 201, response.text


async def resolved(world, ticket: dict[str, Any]):
    agent = await world.person("agent")
    t = {"id": ticket["ticket_id"]}
    assert (await world.act(agent, t, "claim")).status_code == 200
    response = await world.act(agent, t, "resolve", result_summary="Adaptor diganti")
    assert response.status_code == 200, response.text
    return agent


async def test_a_reply_reopens_a_resolved_ticket_first(world):
    ticket = await made(world)
    agent = await resolved(world, ticket)
    body = comment_body(ticket, body="Rusak lagi " * 40)
    response = await intake(world, COMMENTS, body)
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["reopened"] is True and out["status"] == "in_progress"
    current = await read(world, agent, ticket["ticket_id"])
    assert current["status"] == "in_progress" and current["reopen_count"] == 1
    assert current["status_reason"].startswith("Dibuka kembali oleh balasan: Rusak lagi")
    assert len(current["status_reason"]) <= len("Dibuka kembali oleh balasan: ") + 200
    timeline = await read(world, agent, ticket["ticket_id"], "/timeline")
    lines = timeline if isinstance(timeline, list) else timeline["items"]
    assert [(line["kind"], line["actor_role"]) for line in lines[-2:]] == [
        ("reopen", "system"),
        ("comment", "system"),
    ]
    types = [e["event_type"] for e in await events_for(world, ticket["ticket_id"])]
    assert types[-3:] == ["ticket.status_changed", "ticket.reopened", "ticket.commented"]
    # Its repeat reopens nothing more.
    again = await intake(world, COMMENTS, body)
    assert again.status_code == 200, again.text
    assert again.json() == {**out, "created": False}
    assert (await read(world, agent, ticket["ticket_id"]))["reopen_count"] == 1


async def test_without_reopen_on_reply_a_resolved_ticket_only_gets_the_comment(
    world, make_settings
):
    ticket = await made(world)
    agent = await resolved(world, ticket)
    settings = world.settings.model_copy(update={"reopen_on_reply": False})
    assert isinstance(settings, TicketsSettings)
    app = create_app(settings)
    async with app_client(app) as client:
        response = await client.post(COMMENTS, json=comment_body(ticket), headers=INTERNAL)
    assert response.status_code == 201, response.text
    assert response.json()["reopened"] is False and response.json()["status"] == "resolved"
    current = await read(world, agent, ticket["ticket_id"])
    assert current["status"] == "resolved" and current["reopen_count"] == 0


async def test_a_closed_or_rejected_ticket_takes_no_reply(world):
    closed = await made(world)
    agent = await resolved(world, closed)
    response = await world.act(agent, {"id": closed["ticket_id"]}, "close")
    assert response.status_code == 200, response.text
    rejected = await made(world)
    response = await world.act(
        agent, {"id": rejected["ticket_id"]}, "reject", reason="Bukan wewenang TI"
    )
    assert response.status_code == 200, response.text
    for ticket in (closed, rejected):
        body = comment_body(ticket)
        response = await intake(world, COMMENTS, body)
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "ticket_closed" and error["number"] == ticket["number"]
        assert (
            await count_rows(
                world,
                "SELECT count(*) FROM intake_sources WHERE source_key = :k",
                k=body["source_key"],
            )
            == 0
        )


async def test_a_comment_names_an_existing_ticket(world):
    ticket = await made(world)
    response = await intake(world, COMMENTS, comment_body(ticket, ticket_ref="TKT-1999-999999"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ticket_not_found"
    response = await intake(world, COMMENTS, comment_body(ticket, ticket_ref=str(uuid.uuid4())))
    assert response.status_code == 404
    response = await intake(world, COMMENTS, comment_body(ticket, ticket_ref="no such thing"))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "ticket_ref"
    response = await intake(world, COMMENTS, comment_body(ticket, body=" "))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body"


async def test_the_migration_creates_the_table_as_declared(world):
    async with world.app.state.runtime.engine.connect() as connection:
        diffs = await connection.run_sync(model_differences, metadata)
    assert [d for d in diffs if "intake_sources" in repr(d)] == []
