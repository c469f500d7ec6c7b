"""The policy tables themselves (the HTTP matrix is in test_transitions.py)."""

from __future__ import annotations

import pytest

from helpdesk_common.errors import Conflict, PermissionDenied, status_of
from tickets.tickets.policy import TRANSITIONS, Action, Status, build_policy


def test_every_status_change_of_the_spec_is_in_the_table():
    expected: dict[tuple[Status, Action], Status] = {
        ("new", "accept"): "in_progress",
        ("new", "reject"): "rejected",
        ("in_progress", "pending"): "pending",
        ("pending", "resume"): "in_progress",
        ("in_progress", "resolve"): "resolved",
        ("resolved", "confirm"): "closed",
        ("resolved", "reopen"): "in_progress",
    }
    for key, target in expected.items():
        assert TRANSITIONS[key] == target


def test_closed_tickets_accept_nothing():
    assert not [key for key in TRANSITIONS if key[0] == "closed"]


def test_illegal_transition_says_what_is_allowed():
    policy = build_policy()
    with pytest.raises(Conflict) as caught:
        policy.check(role="agent", status="new", action="resolve", assigned=False)
    assert status_of(caught.value) == 409
    assert caught.value.code == "invalid_transition"
    assert "accept" in caught.value.message and "claim" in caught.value.message
    assert caught.value.extra["allowed_actions"][:2] == ["accept", "claim"]


def test_wrong_role_is_forbidden_before_the_status_is_looked_at():
    with pytest.raises(PermissionDenied) as caught:
        build_policy().check(role="leader", status="closed", action="resolve", assigned=True)
    assert status_of(caught.value) == 403
    assert caught.value.code == "forbidden"


def test_overrides_change_who_may_act():
    policy = build_policy({"reassign": ["admin"]})
    assert policy.may("admin", "reassign") and not policy.may("agent", "reassign")
    with pytest.raises(ValueError, match="unknown action"):
        build_policy({"teleport": ["agent"]})
    with pytest.raises(ValueError, match="unknown roles"):
        build_policy({"close": ["janitor"]})
