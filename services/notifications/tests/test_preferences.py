"""Each user's channel choices per event type: in-app on/off, e-mail instant/digest/off,
applied when an event is routed; the API offers only what reaches the user's role."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from helpdesk_common.contracts.tickets import (
    TicketAssigned,
    TicketCommented,
    TicketCreated,
    TicketStatusChanged,
)
from notifications.email.models import DigestItem
from notifications.inapp.models import Notification


async def put_preferences(service, user, items: list[dict[str, Any]]) -> Any:
    return await service.client.put(
        "/notifications/preferences", json={"items": items}, headers=service.headers_for(user)
    )


async def in_app(service, envelope) -> dict[uuid.UUID, Notification]:
    async with service.sessionmaker() as session:
        rows = await session.scalars(
            sa.select(Notification).where(Notification.event_id == envelope.event_id)
        )
        return {n.user_id: n for n in rows}


async def digest_items(service, envelope) -> dict[uuid.UUID, DigestItem]:
    async with service.sessionmaker() as session:
        rows = await session.scalars(
            sa.select(DigestItem).where(DigestItem.event_id == envelope.event_id)
        )
        return {i.user_id: i for i in rows}


async def test_defaults_offer_only_what_reaches_the_role(service):
    requester = await service.add_user("requester")
    leader = await service.add_user("leader")
    agent = await service.add_user("agent")

    async def kinds(user) -> list[str]:
        response = await service.client.get(
            "/notifications/preferences", headers=service.headers_for(user)
        )
        assert response.status_code == 200
        body = response.json()
        assert body["digest_time"] == "07:00:00" and body["timezone"] == "Asia/Jakarta"
        # The defaults are what everyone got before there were preferences.
        assert all(i["in_app"] and i["email"] == "instant" for i in body["items"])
        return [i["event"] for i in body["items"]]

    assert await kinds(requester) == ["commented", "status_changed", "resolved", "closed"]
    assert await kinds(leader) == ["sla_breached", "escalated"]
    assert "created" in await kinds(agent) and "resolved" not in await kinds(agent)


async def test_bad_preferences_are_refused_per_field_and_change_nothing(service):
    requester = await service.add_user("requester")
    ok = {"event": "commented", "in_app": False, "email": "digest"}
    assert (await put_preferences(service, requester, [ok])).status_code == 200
    cases: list[tuple[list[dict[str, Any]], str, str]] = [
        (
            [
                {"event": "status_changed", "in_app": True, "email": "off"},
                {**ok, "event": "assigned"},
            ],
            "items.1.event",
            "event_not_for_role",
        ),
        ([{**ok, "event": "lunch"}], "items.0.event", "validation_error"),
        ([{**ok, "email": "weekly"}], "items.0.email", "validation_error"),
        ([{**ok, "in_app": "perhaps"}], "items.0.in_app", "validation_error"),
        ([ok, {**ok, "email": "off"}], "items.1.event", "duplicate_event"),
    ]
    for items, field, code in cases:
        response = await put_preferences(service, requester, items)
        assert response.status_code == 422, (items, response.text)
        error = response.json()["error"]
        assert error["code"] == code and field in [f["field"] for f in error["fields"]], error

    saved = (
        await service.client.get(
            "/notifications/preferences", headers=service.headers_for(requester)
        )
    ).json()["items"]
    # Only the first, accepted, change is there; the refused ones touched nothing.
    assert {i["event"]: (i["in_app"], i["email"]) for i in saved} == {
        "commented": (False, "digest"),
        "status_changed": (True, "instant"),
        "resolved": (True, "instant"),
        "closed": (True, "instant"),
    }


async def test_choices_apply_per_channel(service, smtp_sink, tickets):
    unit = await service.add_unit(contact_email=f"kontak-{uuid.uuid4().hex[:8]}@example.test")
    requester = await service.add_user("requester", unit=unit)
    agent = await service.add_user("agent")
    quiet_agent = await service.add_user("agent")
    reader = await service.add_user("agent")

    # The quiet agent wants nothing of new tickets; the reader only in the app; the
    # requester reads status changes in the digest and not in the app.
    for user, items in (
        (quiet_agent, [{"event": "created", "in_app": False, "email": "off"}]),
        (reader, [{"event": "created", "in_app": True, "email": "off"}]),
        (requester, [{"event": "status_changed", "in_app": False, "email": "digest"}]),
        (agent, [{"event": "assigned", "in_app": False, "email": "instant"}]),
    ):
        response = await put_preferences(service, user, items)
        assert response.status_code == 200, response.text

    new = await service.publish(tickets.created(unit, requester))
    mails = {d.recipient for d in await service.wait_sent(new)}
    told = await in_app(service, new)
    assert {agent.email, requester.email, unit.contact_email} <= mails
    assert not mails & {quiet_agent.email, reader.email}
    assert reader.user_id in told and agent.user_id in told
    assert quiet_agent.user_id not in told
    # A new ticket in the queue is a broadcast, not addressed to the agents personally.
    assert told[agent.user_id].addressed is False

    ticket = tickets.snapshot(unit, requester, status="in_progress", assignee=agent)
    assigned = await service.publish(
        TicketAssigned(
            ticket=ticket,
            actor=reader.actor(),
            assignee_id=agent.user_id,
            assignee_name=agent.name,
        )
    )
    assert {d.recipient for d in await service.wait_sent(assigned)} == {agent.email}
    assert await in_app(service, assigned) == {}

    changed = await service.publish(
        TicketStatusChanged(
            ticket=ticket.model_copy(update={"status": "pending", "version": 2}),
            actor=agent.actor(),
            from_status="in_progress",
            to_status="pending",
            reason="Menunggu suku cadang.",
        )
    )
    # The unit contact's mail is not the requester's to choose; the requester's waits for
    # the digest, with the rendered subject and link.
    assert {d.recipient for d in await service.wait_sent(changed)} == {unit.contact_email}
    assert await in_app(service, changed) == {}
    [item] = (await digest_items(service, changed)).values()
    assert item.user_id == requester.user_id and item.digest_run_id is None
    assert item.title.startswith(f"[{ticket.number}] Status tiket: Tertunda")
    assert item.link == f"https://helpdesk.example.test/#/tickets/{ticket.ticket_id}"

    # A public comment is the requester's own business: addressed; default channels.
    commented = await service.publish(
        TicketCommented(
            ticket=ticket,
            actor=agent.actor(),
            comment_id=uuid.uuid4(),
            body="Suku cadang sudah dipesan.",
            internal=False,
        )
    )
    assert {d.recipient for d in await service.wait_sent(commented)} == {requester.email}
    assert (await in_app(service, commented))[requester.user_id].addressed is True


async def test_the_receipt_of_a_new_ticket_ignores_choices(service, tickets):
    unit = await service.add_unit()
    requester = await service.add_user("requester", unit=unit)
    # Even a requester who turned everything they can off gets the receipt with the number.
    items = [
        {"event": kind, "in_app": False, "email": "off"}
        for kind in ("commented", "status_changed", "resolved", "closed")
    ]
    assert (await put_preferences(service, requester, items)).status_code == 200
    envelope = await service.publish(
        TicketCreated(ticket=tickets.snapshot(unit, requester), actor=requester.actor())
    )
    assert requester.email in {d.recipient for d in await service.wait_sent(envelope)}
