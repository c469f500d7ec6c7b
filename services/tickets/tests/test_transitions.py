"""The whole transition matrix over HTTP: every status x action x role.

The expected outcome of each cell is derived from the policy tables, and every cell is
tried against the running service: 403 when the role may never do it, 409 when the
status does not allow it (with the allowed actions in the message), 403
``ticket_held_by_other`` when another agent holds the ticket and the action is its
holder's, otherwise success and the status the table names. Agents appear twice: the
ticket's holder, and an agent who does not hold it.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk_common.contracts.identity import INTERNAL_ROLES
from tickets.tickets.policy import (
    DEFAULT_HELD_OVERRIDE_ROLES,
    DEFAULT_ROLES,
    HOLDER_ACTIONS,
    TRANSITIONS,
)

# "holder": the agent holding the ticket (once someone does); "agent": any other agent.
ROLES = ("requester", "holder", "agent", "admin", "leader")
# The policy tables keyed by plain text: the matrix walks statuses, actions and roles as such.
ROLES_FOR: dict[str, frozenset[str]] = {action: roles for action, roles in DEFAULT_ROLES.items()}
TARGETS: dict[tuple[str, str], str] = {key: target for key, target in TRANSITIONS.items()}
ACTIONS: dict[str, dict[str, Any] | None] = {
    "accept": None,
    "claim": None,
    "assign": {},  # assignee filled in per ticket
    "reject": {"reason": "Bukan kewenangan Kominfo"},
    "pending": {"reason": "Menunggu jawaban pemohon"},
    "resume": None,
    "resolve": {"result_summary": "Sudah diperbaiki"},
    "confirm": None,
    "reopen": {"reason": "Masih bermasalah"},
    "close": None,
    "comments": {"body": "Komentar"},
}
# How to bring a fresh ticket into each status (as the agent who holds it).
SETUP: dict[str, list[tuple[str, dict[str, Any] | None]]] = {
    "new": [],
    "in_progress": [("claim", None)],
    "pending": [("claim", None), ("pending", {"reason": "Menunggu"})],
    "resolved": [("claim", None), ("resolve", {"result_summary": "Selesai"})],
    "closed": [("claim", None), ("resolve", {"result_summary": "Selesai"}), ("close", None)],
    "rejected": [("reject", {"reason": "Tidak valid"})],
}


def policy_action(action: str, *, assigned: bool) -> str:
    if action == "assign":
        return "reassign" if assigned else "assign"
    if action == "comments":
        return "comment"
    return action


def expected(status: str, action: str, role: str, *, assigned: bool) -> tuple[int, str]:
    name = policy_action(action, assigned=assigned)
    policy_role = "agent" if role == "holder" else role
    if policy_role not in ROLES_FOR[name]:
        return 403, status
    target = TARGETS.get((status, name))
    if target is None:
        return 409, status
    if name == "claim" and assigned:
        return 409, status
    if (
        assigned
        and role != "holder"
        and name in HOLDER_ACTIONS
        and policy_role in INTERNAL_ROLES
        and policy_role not in DEFAULT_HELD_OVERRIDE_ROLES
    ):
        return 403, status  # ticket_held_by_other
    return (201 if action == "comments" else 200), target


@pytest.mark.parametrize("status", list(SETUP))
async def test_transition_matrix(world, status: str):
    unit = await world.unit()
    holder = await world.person("agent")
    people = {
        "requester": await world.person("requester", unit_id=unit),
        "holder": holder,
        "agent": await world.person("agent"),
        "admin": await world.person("admin"),
        "leader": await world.person("leader"),
    }
    other_agent = await world.person("agent")

    async def ticket_in_status() -> dict[str, Any]:
        ticket = await world.create(people["requester"])
        for step, body in SETUP[status]:
            response = await world.act(holder, ticket, step, **(body or {}))
            assert response.status_code == 200, response.text
            ticket = response.json()
        assert ticket["status"] == status
        return ticket

    async def attempt(ticket: dict[str, Any], action: str, role: str):
        body = dict(ACTIONS[action] or {})
        if action == "assign":
            body = {"assignee_id": str(other_agent.user_id), "version": ticket["version"]}
        return await world.act(people[role], ticket, action, **body)

    shared = await ticket_in_status()
    assigned = shared["assignee_id"] is not None
    tried = 0
    for action in ACTIONS:
        for role in ROLES:
            code, target = expected(status, action, role, assigned=assigned)
            ticket = shared if code >= 400 else await ticket_in_status()
            response = await attempt(ticket, action, role)
            assert response.status_code == code, (status, action, role, response.text)
            tried += 1
            if (
                code == 403
                and role == "agent"
                and assigned
                and ROLES_FOR.get(policy_action(action, assigned=assigned), frozenset())
                >= {"agent"}
            ):
                error = response.json()["error"]
                assert error["code"] == "ticket_held_by_other", (status, action, error)
                assert error["holder"] == {"id": str(holder.user_id), "name": holder.name}
                assert holder.name in error["message"]
            if code == 409 and response.json()["error"]["code"] == "invalid_transition":
                error = response.json()["error"]
                assert f"that is {status}" in error["message"]
                for allowed in error["allowed_actions"]:
                    assert allowed in error["message"]
            if code == 200:
                assert response.json()["status"] == target, (status, action, role)
                assert response.json()["version"] == ticket["version"] + 1
    # Refused attempts changed nothing.
    after = (await world.client.get(f"/tickets/{shared['id']}", headers=holder.headers)).json()
    assert (after["status"], after["version"]) == (status, shared["version"])
    assert tried == len(ACTIONS) * len(ROLES)


async def test_claim_of_a_held_ticket_and_reassign_without_version_are_conflicts(world):
    agent, other = await world.person("agent"), await world.person("agent")
    ticket = await world.create(agent)
    response = await world.act(agent, ticket, "assign", assignee_id=str(agent.user_id))
    assert response.status_code == 200 and response.json()["status"] == "new"
    response = await world.act(other, ticket, "claim")
    assert response.status_code == 409 and response.json()["error"]["code"] == "already_assigned"
    response = await world.act(other, ticket, "assign", assignee_id=str(other.user_id))
    assert response.status_code == 409
    response = await world.act(other, ticket, "assign", assignee_id=str(other.user_id), version=1)
    assert response.status_code == 412
    response = await world.act(other, ticket, "assign", assignee_id=str(other.user_id), version=2)
    assert response.status_code == 200 and response.json()["assignee_id"] == str(other.user_id)


async def test_assignee_must_be_a_known_active_agent(world):
    agent = await world.person("agent")
    requester = await world.person("requester", unit_id=await world.unit())
    ticket = await world.create(agent)
    for assignee in (requester.user_id, (await world.person("agent", known=False)).user_id):
        response = await world.act(agent, ticket, "assign", assignee_id=str(assignee))
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["field"] == "assignee_id"


async def test_reasons_and_result_summary_are_required(world):
    agent = await world.person("agent")
    ticket = await world.create(agent)
    for body, field in [(None, "body"), ({}, "reason"), ({"reason": "  "}, "reason")]:
        response = await world.client.post(
            f"/tickets/{ticket['id']}/reject", json=body, headers=agent.headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["fields"][0]["field"] == field
    ticket = (await world.act(agent, ticket, "claim")).json()
    response = await world.act(agent, ticket, "resolve")
    assert response.status_code == 422
    response = await world.act(agent, ticket, "resolve", result_summary="")
    assert response.json()["error"]["fields"][0]["field"] == "result_summary"
    response = await world.act(agent, ticket, "pending", reason="x" * 2001)
    assert response.json()["error"]["fields"][0]["field"] == "reason"


async def test_stale_version_on_an_action_is_a_412(world):
    agent = await world.person("agent")
    ticket = await world.create(agent)
    claimed = (await world.act(agent, ticket, "claim")).json()
    response = await world.client.post(
        f"/tickets/{ticket['id']}/resolve",
        json={"result_summary": "Selesai"},
        headers={**agent.headers, "If-Match": f'"{ticket["version"]}"'},
    )
    assert response.status_code == 412
    response = await world.act(
        agent, ticket, "resolve", result_summary="Ok", version=claimed["version"]
    )
    assert response.status_code == 200


async def test_reopen_resumes_the_clock_and_counts(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    ticket = await world.create(requester)
    await world.act(agent, ticket, "claim")
    resolved = (await world.act(agent, ticket, "resolve", result_summary="Selesai")).json()
    assert resolved["resolved_at"] and resolved["resolution_seconds"] is not None
    reopened = (await world.act(requester, ticket, "reopen", reason="Masih error")).json()
    assert reopened["status"] == "in_progress" and reopened["reopen_count"] == 1
    assert reopened["resolved_at"] is None and reopened["status_reason"] == "Masih error"
    again = (await world.act(agent, ticket, "resolve", result_summary="Diganti baru")).json()
    closed = (await world.act(requester, ticket, "confirm")).json()
    assert again["status"] == "resolved" and closed["status"] == "closed"
    assert closed["closed_at"] and closed["allowed_actions"] == []
