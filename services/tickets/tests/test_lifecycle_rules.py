"""Lifecycle rules on an in-memory ticket: policy, actions and their changes, without HTTP or a
database (the HTTP matrix is in test_transitions.py and test_spec_rules.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpdesk_common.contracts.tickets import Actor
from helpdesk_common.errors import Conflict, InvalidInput, PermissionDenied, StaleVersion, status_of
from tickets.masterdata.cache import CategoryInfo, MasterData, PriorityInfo
from tickets.shared import SYSTEM_ACTOR, Loaded
from tickets.sla.calendar import WorkingCalendar
from tickets.sla.schedule import SlaRatios
from tickets.tickets import lifecycle
from tickets.tickets.changes import Change, Rules, authorise
from tickets.tickets.policy import build_policy
from tickets.tickets.record import TicketRecord
from tickets.tickets.scheduler import fire_thresholds
from tickets.tickets.schemas import TicketCreate
from tickets.tickets.service import comment_on, created_line, edit, new_ticket, plan_sla

JAKARTA = ZoneInfo("Asia/Jakarta")
CATEGORY = uuid.uuid4()
UNIT = uuid.uuid4()


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of the week of Monday 2026-11-16, office time."""
    return datetime(2026, 11, day, hour, minute, tzinfo=JAKARTA)


MASTER = MasterData(
    priorities={
        "normal": PriorityInfo("normal", "Normal", 10, True, True, 60, 8 * 60),
        "high": PriorityInfo("high", "Tinggi", 20, False, True, 30, 4 * 60),
    },
    categories={CATEGORY: CategoryInfo(CATEGORY, "Aplikasi", None, True)},
    rules=(),
    calendar=WorkingCalendar.build(
        timezone="Asia/Jakarta", windows=[(day, time(8), time(16)) for day in range(5)]
    ),
)
RULES = Rules(policy=build_policy(), master=MASTER, ratios=SlaRatios(warning=0.75, escalation=1.0))


def person(role: str) -> Actor:
    return Actor(user_id=uuid.uuid4(), name=f"{role.title()} Satu", role=role)


REQUESTER = person("requester")
AGENT = person("agent")
OTHER_AGENT = person("agent")
ADMIN = person("admin")


def created(at: datetime = wib(16, 9)) -> Loaded:
    data = TicketCreate(title="Printer rusak", description="Tidak bisa cetak", category_id=CATEGORY)
    ticket = new_ticket(
        data,
        number="TKT-2026-000001",
        actor=REQUESTER,
        unit_id=UNIT,
        priority=("normal", "default"),
        requester=(REQUESTER.user_id, REQUESTER.name),
        now=at,
    )
    plan_sla(ticket, master=MASTER, ratios=RULES.ratios)
    return Loaded(ticket=ticket, unit_name="Dinas Satu")


def change(
    loaded: Loaded, actor: Actor, action: str, *, at: datetime, version: int | None = None
) -> Change:
    return authorise(
        RULES, loaded=loaded, actor=actor, action=action, expected_version=version, now=at
    )


def event_types(made: Change) -> list[str]:
    return [type(event).event_type for event in made.events]


def test_a_new_ticket_is_planned_and_says_how_it_was_created():
    loaded = created()
    ticket = loaded.ticket
    assert (ticket.status, ticket.version, ticket.assignee_id) == ("new", 1, None)
    assert ticket.first_response_due_at == wib(16, 10)
    assert ticket.resolution_due_at == wib(17, 9)  # 7 working hours on Monday, 1 on Tuesday
    assert ticket.sla_next_check_at == ticket.first_response_warn_at
    line = created_line(ticket, actor=REQUESTER)
    assert line.kind == "created" and line.after is not None
    assert line.after["status"] == "new" and line.after["category_id"] == str(CATEGORY)


def test_claim_takes_the_ticket_answers_first_and_says_so():
    loaded = created()
    made = change(loaded, AGENT, "claim", at=wib(16, 9, 30))
    lifecycle.claim(made)
    ticket = loaded.ticket
    assert (ticket.status, ticket.assignee_id, ticket.version) == ("in_progress", AGENT.user_id, 2)
    assert ticket.first_response_at == wib(16, 9, 30)
    assert ticket.first_response_seconds == 30 * 60
    assert ticket.sla_next_check_at == ticket.resolution_warn_at
    [line] = made.lines
    assert line.kind == "claim" and line.actor == AGENT
    assert line.before == {"assignee_id": None, "assignee_name": None, "status": "new"}
    assert event_types(made) == ["ticket.assigned", "ticket.status_changed"]


def test_a_held_ticket_cannot_be_claimed():
    loaded = created()
    lifecycle.claim(change(loaded, AGENT, "claim", at=wib(16, 10)))
    with pytest.raises(Conflict) as caught:
        lifecycle.claim(change(loaded, OTHER_AGENT, "claim", at=wib(16, 11)))
    assert caught.value.code == "already_assigned"
    assert caught.value.extra == {"assignee_id": str(AGENT.user_id)}


def test_the_role_is_checked_before_the_version_and_the_status():
    loaded = created()
    with pytest.raises(PermissionDenied) as forbidden:
        change(loaded, REQUESTER, "resolve", at=wib(16, 10), version=7)
    assert (status_of(forbidden.value), forbidden.value.code) == (403, "forbidden")
    with pytest.raises(StaleVersion) as stale:
        change(loaded, AGENT, "resolve", at=wib(16, 10), version=7)
    assert status_of(stale.value) == 412
    assert stale.value.extra == {"current_version": 1}
    with pytest.raises(Conflict) as illegal:
        change(loaded, AGENT, "resolve", at=wib(16, 10), version=1)
    assert illegal.value.code == "invalid_transition"
    assert illegal.value.extra["allowed_actions"][:2] == ["accept", "claim"]


def test_reassigning_needs_the_version_and_an_active_agent():
    loaded = created()
    lifecycle.claim(change(loaded, AGENT, "claim", at=wib(16, 10)))
    target = OTHER_AGENT.user_id
    assert target is not None
    without_version = change(loaded, ADMIN, "assign", at=wib(16, 11))
    assert without_version.action == "reassign"
    with pytest.raises(Conflict) as caught:
        lifecycle.assign(without_version, assignee_id=target, agent_name=OTHER_AGENT.name)
    assert caught.value.extra["current_version"] == 2
    unknown = change(loaded, ADMIN, "assign", at=wib(16, 11), version=2)
    with pytest.raises(InvalidInput) as invalid:
        lifecycle.assign(unknown, assignee_id=target, agent_name=None)
    assert (invalid.value.code, invalid.value.field) == ("unknown_agent", "assignee_id")
    made = change(loaded, ADMIN, "assign", at=wib(16, 11), version=2)
    lifecycle.assign(made, assignee_id=target, agent_name=OTHER_AGENT.name)
    assert loaded.ticket.assignee_name == OTHER_AGENT.name
    assert made.lines[0].kind == "reassign"
    [assigned] = made.events
    assert assigned.model_dump()["previous_assignee_id"] == AGENT.user_id


def test_pending_stops_the_resolution_clock_and_resume_moves_the_due_date_out():
    loaded = created()
    ticket = loaded.ticket
    lifecycle.claim(change(loaded, AGENT, "claim", at=wib(16, 10)))
    due = ticket.resolution_due_at
    assert due is not None
    lifecycle.hold(change(loaded, AGENT, "pending", at=wib(16, 11)), reason="Menunggu data")
    assert (ticket.status, ticket.sla_paused_since) == ("pending", wib(16, 11))
    assert ticket.sla_next_check_at is None
    made = change(loaded, REQUESTER, "resume", at=wib(16, 13))
    lifecycle.resume(made, reason=None)
    assert ticket.status == "in_progress" and ticket.status_reason is None
    assert ticket.resolution_due_at == due + timedelta(hours=2)
    assert made.lines[0].after is not None
    assert made.lines[0].after["resolution_due_at"] == ticket.resolution_due_at.isoformat()


def test_resolve_confirm_and_reopen():
    loaded = created()
    ticket = loaded.ticket
    lifecycle.accept(change(loaded, AGENT, "accept", at=wib(16, 10)))
    resolved = change(loaded, AGENT, "resolve", at=wib(16, 12))
    lifecycle.resolve(resolved, result_summary="Driver dipasang ulang")
    assert (ticket.status, ticket.resolved_at) == ("resolved", wib(16, 12))
    assert ticket.resolution_seconds == 3 * 3600
    assert event_types(resolved) == ["ticket.status_changed", "ticket.resolved"]
    for event in resolved.events:
        snap = event.model_dump()["ticket"]
        assert (snap["resolution_seconds"], snap["result_summary"]) == (
            3 * 3600,
            "Driver dipasang ulang",
        )
        assert (snap["first_response_seconds"], snap["updated_at"]) == (3600, wib(16, 12))
    reopened = change(loaded, REQUESTER, "reopen", at=wib(17, 9))
    lifecycle.reopen(reopened, reason="Masih rusak")
    assert (ticket.status, ticket.reopen_count, ticket.resolved_at) == ("in_progress", 1, None)
    snap = reopened.events[-1].model_dump()["ticket"]
    assert (snap["reopen_count"], snap["resolution_seconds"]) == (1, None)
    lifecycle.resolve(change(loaded, AGENT, "resolve", at=wib(17, 10)), result_summary="Beres")
    confirmed = change(loaded, REQUESTER, "confirm", at=wib(17, 11))
    lifecycle.confirm(confirmed)
    assert (ticket.status, ticket.closed_at) == ("closed", wib(17, 11))
    assert confirmed.events[-1].model_dump()["automatic"] is False
    with pytest.raises(Conflict):
        change(loaded, AGENT, "comment", at=wib(17, 12))


def test_auto_close_is_the_systems_and_says_so():
    loaded = created()
    lifecycle.accept(change(loaded, AGENT, "accept", at=wib(16, 10)))
    lifecycle.resolve(change(loaded, AGENT, "resolve", at=wib(16, 12)), result_summary="Beres")
    with pytest.raises(PermissionDenied):
        change(loaded, AGENT, "auto_close", at=wib(20, 12))
    made = change(loaded, SYSTEM_ACTOR, "auto_close", at=wib(20, 12))
    lifecycle.auto_close(made, after_days=3)
    assert loaded.ticket.status == "closed"
    assert made.lines[0].note == "Ditutup otomatis: tidak dikonfirmasi dalam 3 hari"
    assert made.events[-1].model_dump()["automatic"] is True


def test_an_edit_that_changes_nothing_is_no_change():
    loaded = created()
    made = change(loaded, AGENT, "edit", at=wib(16, 10), version=1)
    edit(made, given={"title": "Printer rusak"})
    assert not made.made and loaded.ticket.version == 1
    with pytest.raises(InvalidInput) as caught:
        edit(made, given={"title": None})
    assert caught.value.field == "title"
    made = change(loaded, AGENT, "edit", at=wib(16, 10), version=1)
    edit(made, given={"priority": "high"})
    assert (loaded.ticket.priority_source, loaded.ticket.version) == ("manual", 2)
    assert loaded.ticket.first_response_due_at == wib(16, 9, 30)  # re-planned: 30 minutes


def test_a_public_comment_by_staff_is_a_first_response_but_a_note_is_not():
    loaded = created()
    _, line, note = comment_on(
        loaded,
        actor=AGENT,
        body="Dicek",
        internal=True,
        now=wib(16, 10),
        master=MASTER,
        web_base_url=None,
    )
    assert loaded.ticket.first_response_at is None and line.internal and note.internal
    comment, line, event = comment_on(
        loaded,
        actor=AGENT,
        body="Sedang kami cek",
        internal=False,
        now=wib(16, 10),
        master=MASTER,
        web_base_url="https://helpdesk.example",
    )
    assert loaded.ticket.first_response_at == wib(16, 10)
    assert loaded.ticket.version == 1  # comments do not change the version
    assert line.after == {
        "comment_id": str(comment.id),
        "body": "Sedang kami cek",
        "internal": False,
    }
    assert event.ticket.model_dump()["url"].endswith(f"/#/tickets/{loaded.ticket.id}")


def test_the_scheduler_fires_each_threshold_once():
    loaded = created()
    ticket: TicketRecord = loaded.ticket
    fired = fire_thresholds(
        loaded,
        master=MASTER,
        now=wib(16, 10, 30),
        warning_ratio=0.75,
        escalation_roles=["leader"],
        web_base_url=None,
    )
    # First response due at 10:00: warning skipped (too late), breach and escalation fire.
    assert fired.labels == [("sla_breached", "first_response"), ("escalated", "first_response")]
    assert [line.internal for line in fired.lines] == [True, True]
    assert ticket.first_response_warned_at == wib(16, 10, 30)
    assert ticket.escalation_level == 1 and ticket.version == 1
    # The events' snapshot is taken after the stamps: the breach and the new level show.
    assert [type(event).event_type for event in fired.events] == [
        "ticket.sla_breached",
        "ticket.escalated",
    ]
    for event in fired.events:
        snap = event.model_dump()["ticket"]
        assert snap["first_response_breached_at"] == wib(16, 10, 30)
        assert (snap["escalation_level"], snap["resolution_breached_at"]) == (1, None)
    again = fire_thresholds(
        loaded,
        master=MASTER,
        now=wib(16, 10, 31),
        warning_ratio=0.75,
        escalation_roles=["leader"],
        web_base_url=None,
    )
    assert again.labels == [] and again.events == []
    assert ticket.sla_next_check_at == ticket.resolution_warn_at
