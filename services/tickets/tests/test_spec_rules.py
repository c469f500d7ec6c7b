"""The lifecycle rules of the product spec (SPEC.md §2, §3), written out by hand.

test_transitions.py derives its expectations from the policy tables, so a wrong table would
agree with itself there. The table below is independent: each row is what the spec says
(or plainly implies) about one status x action x role, and both the policy module and the
running service are held against it.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk_common.errors import DomainError, status_of
from tickets.tickets.policy import build_policy

LIFECYCLE = (
    "claim",
    "accept",
    "assign",
    "reject",
    "pending",
    "resume",
    "resolve",
    "confirm",
    "reopen",
    "close",
)
# Who the spec lets do an action at all (§2): staff actions are the agent's, confirm and
# reopen the requester's; used to show that a terminal status refuses even the right role.
ENTITLED = {action: "agent" for action in LIFECYCLE} | {
    "confirm": "requester",
    "reopen": "requester",
}
BODIES: dict[str, dict[str, Any]] = {
    "reject": {"reason": "Bukan kewenangan Kominfo"},
    "pending": {"reason": "Menunggu jawaban pemohon"},
    "resolve": {"result_summary": "Sudah diperbaiki"},
    "reopen": {"reason": "Masih bermasalah"},
}
# How to bring a fresh ticket into a status, as the agent who then holds it.
REACH: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "new": [],
    "in_progress": [("claim", {})],
    "pending": [("claim", {}), ("pending", {"reason": "Menunggu data"})],
    "resolved": [("claim", {}), ("resolve", {"result_summary": "Selesai"})],
    "closed": [("claim", {}), ("resolve", {"result_summary": "Selesai"}), ("close", {})],
    "rejected": [("reject", {"reason": "Tidak valid"})],
}
HELD = {"new": False, "rejected": False} | {
    s: True for s in ("in_progress", "pending", "resolved", "closed")
}

# (status, action, role) -> the status after it, or the refusal's HTTP status.
SPEC: dict[tuple[str, str, str], str | int] = {
    # §3: verification accepts (-> in_progress) or rejects; an agent may take a ticket.
    ("new", "accept", "agent"): "in_progress",
    ("new", "claim", "agent"): "in_progress",
    ("new", "reject", "agent"): "rejected",
    # A new ticket is neither resolved, confirmed nor reopened.
    ("new", "resolve", "agent"): 409,
    ("new", "confirm", "requester"): 409,
    ("new", "reopen", "requester"): 409,
    ("in_progress", "resolve", "agent"): "resolved",
    ("in_progress", "pending", "agent"): "pending",
    ("in_progress", "confirm", "requester"): 409,
    ("in_progress", "reopen", "requester"): 409,
    ("pending", "resume", "agent"): "in_progress",
    # The requester confirms (-> closed) or reopens (-> in_progress) a resolved ticket.
    ("resolved", "confirm", "requester"): "closed",
    ("resolved", "reopen", "requester"): "in_progress",
    ("resolved", "resolve", "agent"): 409,
    # Closed and rejected are final: no lifecycle action, not even by its rightful role.
    **{("closed", a, ENTITLED[a]): 409 for a in LIFECYCLE},
    **{("rejected", a, ENTITLED[a]): 409 for a in LIFECYCLE},
    # §2: leaders only read.
    **{(s, a, "leader"): 403 for s in ("new", "in_progress", "resolved") for a in LIFECYCLE},
    # §2: requesters do not verify, take, dispatch or resolve.
    **{
        (s, a, "requester"): 403
        for s in ("new", "in_progress")
        for a in ("claim", "accept", "reject", "resolve", "assign")
    },
}
# §3: a reason is required to reject, a result summary to resolve: 422 naming the field.
REQUIRED = [
    ("new", "reject", None, "body"),
    ("new", "reject", {}, "reason"),
    ("new", "reject", {"reason": "   "}, "reason"),
    ("in_progress", "resolve", None, "body"),
    ("in_progress", "resolve", {}, "result_summary"),
    ("in_progress", "resolve", {"result_summary": ""}, "result_summary"),
]


def policy_action(action: str, *, status: str) -> str:
    return "reassign" if action == "assign" and HELD[status] else action


@pytest.mark.parametrize("status", list(REACH))
def test_policy_module_agrees_with_the_spec(status: str):
    policy = build_policy()
    rows = {key: v for key, v in SPEC.items() if key[0] == status}
    assert rows
    for (_, action, role), outcome in rows.items():
        name = policy_action(action, status=status)
        if isinstance(outcome, int):
            with pytest.raises(DomainError) as caught:
                policy.check(role=role, status=status, action=name, assigned=HELD[status])
            assert status_of(caught.value) == outcome, (status, action, role)
        else:
            target = policy.check(role=role, status=status, action=name, assigned=HELD[status])
            assert target == outcome, (status, action, role)


@pytest.mark.parametrize("status", list(REACH))
async def test_service_agrees_with_the_spec(world, status: str):
    unit = await world.unit()
    holder = await world.person("agent")
    other_agent = await world.person("agent")
    people = {
        "requester": await world.person("requester", unit_id=unit),
        "agent": holder,
        "leader": await world.person("leader"),
    }

    async def reach() -> dict[str, Any]:
        ticket = await world.create(people["requester"])
        for step, body in REACH[status]:
            response = await world.act(holder, ticket, step, **body)
            assert response.status_code == 200, response.text
            ticket = response.json()
        assert ticket["status"] == status
        return ticket

    shared = await reach()
    for (_, action, role), outcome in ((k, v) for k, v in SPEC.items() if k[0] == status):
        ticket = shared if isinstance(outcome, int) else await reach()
        body = dict(BODIES.get(action, {}))
        if action == "assign":
            body = {"assignee_id": str(other_agent.user_id), "version": ticket["version"]}
        response = await world.act(people[role], ticket, action, **body)
        case = (status, action, role, response.text)
        if isinstance(outcome, int):
            assert response.status_code == outcome, case
            continue
        assert response.status_code == 200, case
        after = response.json()
        assert (after["status"], after["version"]) == (outcome, ticket["version"] + 1), case
        # §3: every transition is on the timeline with actor, before and after.
        timeline = await world.client.get(
            f"/tickets/{ticket['id']}/timeline", headers=holder.headers
        )
        last = timeline.json()[-1]
        assert last["actor_id"] == str(people[role].user_id), case
        assert (last["before"]["status"], last["after"]["status"]) == (status, outcome), case

    for _, action, invalid, field in (r for r in REQUIRED if r[0] == status):
        response = await world.client.post(
            f"/tickets/{shared['id']}/{action}", json=invalid, headers=holder.headers
        )
        assert response.status_code == 422, (action, invalid, response.text)
        assert response.json()["error"]["fields"][0]["field"] == field, (action, invalid)

    # Nothing refused above changed the ticket.
    current = await world.client.get(f"/tickets/{shared['id']}", headers=holder.headers)
    assert (current.json()["status"], current.json()["version"]) == (status, shared["version"])
