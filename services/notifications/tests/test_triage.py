"""Triage routing of new tickets: every agent, or the triage group's members on duty (all
members when none is); the API refuses bad settings field by field and keeps the old ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.identity import UserDeactivated
from helpdesk_common.directory import DirectoryUser
from helpdesk_testing import eventually
from notifications.inapp.models import Notification

# Wednesday 9 December 2026, 10:00 and 20:00 in Jakarta (UTC+7).
WEDNESDAY_MORNING = datetime(2026, 12, 9, 3, 0, tzinfo=UTC)
WEDNESDAY_EVENING = datetime(2026, 12, 9, 13, 0, tzinfo=UTC)
WEEKDAYS = {"weekdays": [1, 2, 3, 4, 5], "from": "08:00", "to": "16:00"}
WEEKEND = {"weekdays": [6, 7], "from": "08:00", "to": "16:00"}


async def world(service) -> SimpleNamespace:
    unit = await service.add_unit(contact_email=f"kontak-{uuid.uuid4().hex[:8]}@example.test")
    return SimpleNamespace(
        unit=unit,
        requester=await service.add_user("requester", unit=unit),
        weekday_agent=await service.add_user("agent", name="Agen Hari Kerja"),
        weekend_admin=await service.add_user("admin", name="Admin Akhir Pekan"),
        other_agent=await service.add_user("agent", name="Agen Lain"),
    )


async def put_triage(service, body: dict[str, Any]) -> Any:
    return await service.client.put(
        "/notifications/triage", json=body, headers=service.admin_headers()
    )


async def created_at(service, tickets, w, moment: datetime) -> EventEnvelope:
    payload = tickets.created(w.unit, w.requester)
    envelope = EventEnvelope.wrap(payload, producer="tickets").model_copy(
        update={"occurred_at": moment}
    )
    await service.publish_envelope(envelope)
    return envelope


async def alerted(service, envelope: EventEnvelope) -> tuple[set[str], set[uuid.UUID]]:
    """The addresses mailed and the users told in the app about the event."""
    deliveries = await service.wait_sent(envelope)
    async with service.sessionmaker() as session:
        users = set(
            await session.scalars(
                sa.select(Notification.user_id).where(Notification.event_id == envelope.event_id)
            )
        )
    return {d.recipient for d in deliveries}, users


async def deactivate(service, person) -> None:
    await service.publish(
        UserDeactivated(
            user_id=person.user_id,
            username=f"gone{person.user_id.hex[:8]}",
            full_name=person.name,
            email=person.email,
            role=person.role,
            unit_id=None,
            is_active=False,
            language="id",
            revision=2,
            updated_at=datetime.now(UTC),
        ),
        producer="identity",
    )

    async def inactive() -> bool:
        async with service.sessionmaker() as session:
            user = await session.get(DirectoryUser, person.user_id)
            return user is not None and not user.is_active

    await eventually(inactive)


async def test_the_triage_group_on_duty_hears_of_new_tickets(service, tickets):
    w = await world(service)

    # Default: every active agent, as before.
    mails, users = await alerted(service, await created_at(service, tickets, w, WEDNESDAY_MORNING))
    assert {w.weekday_agent.email, w.other_agent.email} <= mails
    assert {w.weekday_agent.user_id, w.other_agent.user_id} <= users

    response = await put_triage(
        service,
        {
            "mode": "triage_group",
            "members": [
                {"user_id": str(w.weekday_agent.user_id), "duty": WEEKDAYS},
                {"user_id": str(w.weekend_admin.user_id), "duty": WEEKEND},
            ],
        },
    )
    assert response.status_code == 200, response.text
    saved = response.json()
    assert saved["mode"] == "triage_group" and saved["revision"] == 1
    assert [m["full_name"] for m in saved["members"]] == ["Agen Hari Kerja", "Admin Akhir Pekan"]
    assert saved["members"][0]["duty"] == {
        "weekdays": [1, 2, 3, 4, 5],
        "from": "08:00:00",
        "to": "16:00:00",
    }
    assert {c["user_id"] for c in saved["candidates"]} >= {
        str(w.weekday_agent.user_id),
        str(w.weekend_admin.user_id),
    }

    # Wednesday morning: the weekday agent is on duty, alone; at once, without a restart.
    mails, users = await alerted(service, await created_at(service, tickets, w, WEDNESDAY_MORNING))
    assert mails == {w.requester.email, w.unit.contact_email, w.weekday_agent.email}
    assert users == {w.weekday_agent.user_id}

    # Wednesday evening nobody is on duty: every member hears of it, nobody else.
    mails, users = await alerted(service, await created_at(service, tickets, w, WEDNESDAY_EVENING))
    assert mails == {
        w.requester.email,
        w.unit.contact_email,
        w.weekday_agent.email,
        w.weekend_admin.email,
    }
    assert users == {w.weekday_agent.user_id, w.weekend_admin.user_id}

    # A member without duty hours is always on duty.
    response = await put_triage(
        service,
        {
            "mode": "triage_group",
            "members": [
                {"user_id": str(w.weekday_agent.user_id), "duty": WEEKDAYS},
                {"user_id": str(w.other_agent.user_id)},
            ],
        },
    )
    assert response.status_code == 200
    assert response.json()["members"][1]["on_duty_now"] is True
    mails, users = await alerted(service, await created_at(service, tickets, w, WEDNESDAY_EVENING))
    assert users == {w.other_agent.user_id}

    # Back to every agent.
    assert (await put_triage(service, {"mode": "all_agents", "members": []})).status_code == 200
    mails, users = await alerted(service, await created_at(service, tickets, w, WEDNESDAY_EVENING))
    assert {w.weekday_agent.user_id, w.other_agent.user_id} <= users
    assert w.weekend_admin.user_id not in users


async def test_a_group_left_without_active_staff_falls_back_to_every_agent(service, tickets):
    w = await world(service)
    leaving = await service.add_user("agent")
    response = await put_triage(
        service, {"mode": "triage_group", "members": [{"user_id": str(leaving.user_id)}]}
    )
    assert response.status_code == 200
    # The member's account is disabled afterwards.
    await deactivate(service, leaving)
    try:
        _, users = await alerted(service, await created_at(service, tickets, w, WEDNESDAY_MORNING))
        assert {w.weekday_agent.user_id, w.other_agent.user_id} <= users
        assert leaving.user_id not in users
    finally:
        await put_triage(service, {"mode": "all_agents", "members": []})


async def test_bad_settings_are_refused_per_field_and_change_nothing(service):
    agent = await service.add_user("agent")
    requester = await service.add_user("requester")
    disabled = await service.add_user("agent", active=False)
    good = {"mode": "triage_group", "members": [{"user_id": str(agent.user_id)}]}
    assert (await put_triage(service, good)).status_code == 200
    before = (
        await service.client.get("/notifications/triage", headers=service.admin_headers())
    ).json()

    def member(user, duty: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"user_id": str(user.user_id), "duty": duty}

    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {"mode": "triage_group", "members": [member(agent), {"user_id": str(uuid.uuid4())}]},
            "members.1.user_id",
            "unknown_user",
        ),
        (
            {"mode": "triage_group", "members": [member(requester)]},
            "members.0.user_id",
            "not_an_agent",
        ),
        (
            {"mode": "triage_group", "members": [member(disabled)]},
            "members.0.user_id",
            "not_an_agent",
        ),
        (
            {"mode": "triage_group", "members": [member(agent), member(agent)]},
            "members.1.user_id",
            "duplicate_member",
        ),
        (
            {"mode": "triage_group", "members": [member(agent, {**WEEKDAYS, "from": "16:00"})]},
            "members.0.duty.to",
            "duty_from_not_before_to",
        ),
        (
            {"mode": "triage_group", "members": [member(agent, {**WEEKDAYS, "weekdays": [1, 8]})]},
            "members.0.duty.weekdays.1",
            "validation_error",
        ),
        (
            {"mode": "triage_group", "members": [member(agent, {**WEEKDAYS, "weekdays": []})]},
            "members.0.duty.weekdays",
            "validation_error",
        ),
        (
            {"mode": "triage_group", "members": [member(agent, {**WEEKDAYS, "to": "25:00"})]},
            "members.0.duty.to",
            "validation_error",
        ),
        ({"mode": "triage_group", "members": []}, "members", "empty_triage_group"),
        ({"mode": "some_agents", "members": []}, "mode", "validation_error"),
    ]
    for body, field, code in cases:
        response = await put_triage(service, body)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == code, (body, error)
        assert field in [f["field"] for f in error["fields"]], (body, error)

    after = (
        await service.client.get("/notifications/triage", headers=service.admin_headers())
    ).json()
    assert after["revision"] == before["revision"] and after["members"] == before["members"]

    # Administrators only.
    headers = service.headers_for(agent)
    assert (await service.client.get("/notifications/triage", headers=headers)).status_code == 403
    assert (
        await service.client.put("/notifications/triage", json=good, headers=headers)
    ).status_code == 403
    await put_triage(service, {"mode": "all_agents", "members": []})
