"""A held ticket is its holder's work (seed 004: agents change the tickets assigned to them,
or as their authority allows): another agent gets 403 ``ticket_held_by_other`` naming the
holder for every status change and edit; the holder and the overriding roles (default:
administrators) succeed; comments and taking the ticket over stay open."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tickets.tickets.policy import HOLDER_ACTIONS, Holder, build_policy

# How to bring a ticket held by the holder into the status each guarded action needs, and
# the action's request: (status steps by the holder, action, body).
GUARDED: dict[str, tuple[list[tuple[str, dict[str, Any] | None]], dict[str, Any] | None]] = {
    # "new" but assigned: accept and reject are the assignee's.
    "accept": ([], None),
    "reject": ([], {"reason": "Bukan kewenangan Kominfo"}),
    "pending": ([("accept", None)], {"reason": "Menunggu jawaban pemohon"}),
    "resolve": ([("accept", None)], {"result_summary": "Sudah diperbaiki"}),
    "resume": ([("accept", None), ("pending", {"reason": "Menunggu"})], None),
    "reopen": ([("accept", None), ("resolve", {"result_summary": "Selesai"})], {"reason": "Lagi"}),
    "close": ([("accept", None), ("resolve", {"result_summary": "Selesai"})], None),
}


@pytest.fixture(scope="module")
async def people(world) -> dict[str, Any]:
    unit = await world.unit()
    return {
        "unit": unit,
        "requester": await world.person("requester", unit_id=unit),
        "holder": await world.person("agent", name="Rahmat Hidayat"),
        "other": await world.person("agent", name="Siti Aminah"),
        "admin": await world.person("admin"),
    }


async def held_ticket(world, people, steps: list[tuple[str, dict[str, Any] | None]]) -> dict:
    """A ticket assigned to the holder, brought through ``steps`` by them."""
    ticket = await world.create(people["requester"])
    response = await world.act(
        people["admin"], ticket, "assign", assignee_id=str(people["holder"].user_id)
    )
    assert response.status_code == 200, response.text
    ticket = response.json()
    for step, body in steps:
        response = await world.act(people["holder"], ticket, step, **(body or {}))
        assert response.status_code == 200, response.text
        ticket = response.json()
    return ticket


def assert_held_by(response: httpx.Response, holder: Any) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "ticket_held_by_other"
    assert error["holder"] == {"id": str(holder.user_id), "name": "Rahmat Hidayat"}
    assert "Rahmat Hidayat" in error["message"]


@pytest.mark.parametrize("action", list(GUARDED))
async def test_only_the_holder_changes_a_held_ticket(world, people, action):
    steps, body = GUARDED[action]
    ticket = await held_ticket(world, people, steps)
    response = await world.act(people["other"], ticket, action, **(body or {}))
    assert_held_by(response, people["holder"])
    unchanged = await world.client.get(f"/tickets/{ticket['id']}", headers=people["holder"].headers)
    assert unchanged.json()["version"] == ticket["version"]
    # Not offered to the other agent; offered to the holder.
    seen_by_other = await world.client.get(
        f"/tickets/{ticket['id']}", headers=people["other"].headers
    )
    assert action not in seen_by_other.json()["allowed_actions"]
    assert action in unchanged.json()["allowed_actions"]

    response = await world.act(people["holder"], ticket, action, **(body or {}))
    assert response.status_code == 200, response.text


async def test_edits_are_the_holders_and_the_administrators(world, people):
    ticket = await held_ticket(world, people, [("accept", None)])
    path = f"/tickets/{ticket['id']}"
    response = await world.client.patch(
        path,
        json={"priority": "high", "version": ticket["version"]},
        headers=people["other"].headers,
    )
    assert_held_by(response, people["holder"])
    # Administrators may (the default overriding role), as may the holder.
    response = await world.client.patch(
        path,
        json={"priority": "high", "version": ticket["version"]},
        headers=people["admin"].headers,
    )
    assert response.status_code == 200, response.text
    response = await world.client.patch(
        path,
        json={"title": "Printer lantai 2 mati", "version": response.json()["version"]},
        headers=people["holder"].headers,
    )
    assert response.status_code == 200, response.text


async def test_an_administrator_closes_a_held_ticket(world, people):
    ticket = await held_ticket(
        world, people, [("accept", None), ("resolve", {"result_summary": "Ok"})]
    )
    seen = await world.client.get(f"/tickets/{ticket['id']}", headers=people["admin"].headers)
    assert "close" in seen.json()["allowed_actions"]
    response = await world.act(people["admin"], ticket, "close")
    assert response.status_code == 200 and response.json()["status"] == "closed", response.text


async def test_others_still_comment_and_take_over(world, people):
    ticket = await held_ticket(world, people, [("accept", None)])
    other = people["other"]
    seen = await world.client.get(f"/tickets/{ticket['id']}", headers=other.headers)
    allowed = seen.json()["allowed_actions"]
    assert {"comment", "comment_internal", "reassign"} <= set(allowed)
    assert not set(allowed) & HOLDER_ACTIONS
    for internal in (False, True):
        response = await world.client.post(
            f"/tickets/{ticket['id']}/comments",
            json={"body": "Saya bisa bantu cek kabelnya", "internal": internal},
            headers=other.headers,
        )
        assert response.status_code == 201, response.text
    # Taking it over (reassign, with the version seen) stays possible; then it is theirs.
    response = await world.act(
        other, ticket, "assign", assignee_id=str(other.user_id), version=ticket["version"]
    )
    assert response.status_code == 200, response.text
    response = await world.act(other, response.json(), "pending", reason="Menunggu pemohon")
    assert response.status_code == 200, response.text
    # ... and the former holder is now the other one.
    response = await world.act(people["holder"], response.json(), "resume")
    assert response.status_code == 403
    assert response.json()["error"]["holder"]["id"] == str(other.user_id)


async def test_the_requester_and_unassigned_tickets_are_unaffected(world, people):
    ticket = await held_ticket(world, people, [("accept", None), ("pending", {"reason": "Data?"})])
    response = await world.act(people["requester"], ticket, "resume", reason="Sudah saya kirim")
    assert response.status_code == 200, response.text
    unassigned = await world.create(people["requester"])
    response = await world.act(people["other"], unassigned, "accept")
    assert response.status_code == 200, response.text


async def test_bulk_actions_are_refused_per_held_ticket(world, people):
    held = await held_ticket(
        world, people, [("accept", None), ("resolve", {"result_summary": "Ok"})]
    )
    response = await world.client.post(
        "/tickets/bulk",
        json={"action": "close", "tickets": [{"id": held["id"]}]},
        headers=people["other"].headers,
    )
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert not result["ok"] and result["error"]["code"] == "ticket_held_by_other"
    assert "Rahmat Hidayat" in result["error"]["message"]


def test_the_overriding_roles_are_a_setting():
    holder = Holder(id=uuid.uuid4(), name="Rahmat Hidayat")
    strict = build_policy(held_override_roles=[])
    with pytest.raises(Exception, match="held by Rahmat Hidayat") as refused:
        strict.require_holder(
            role="admin", action="close", actor_id=None, holder=holder, number="TKT-1"
        )
    assert getattr(refused.value, "code", None) == "ticket_held_by_other"
    # Agents given the right act on each other's tickets as before.
    lenient = build_policy(held_override_roles=["admin", "agent"])
    lenient.require_holder(role="agent", action="resolve", actor_id=None, holder=holder, number="T")
    assert "resolve" in lenient.allowed_actions(
        role="agent", status="in_progress", assigned=True, held_by_other=True
    )
    with pytest.raises(ValueError, match="unknown roles"):
        build_policy(held_override_roles=["supervisor"])
