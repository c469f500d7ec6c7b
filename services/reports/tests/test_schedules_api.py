"""The scheduled reports API: who may keep which schedule, what a schedule may name, the
periods it starts with, and the runs the worker records."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from helpdesk_common.contracts.identity import Role, UserCreated
from helpdesk_common.directory import upsert_user
from reports.schedules import worker
from reports.schedules.models import ReportRun, ReportSchedule
from reports.schedules.worker import run_next_due

from .conftest import Reports

JAKARTA = ZoneInfo("Asia/Jakarta")


async def person(
    reports: Reports,
    role: Role,
    *,
    email: bool = True,
    active: bool = True,
    revision: int = 1,
    user_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A user in the reports service's directory replica."""
    user_id = user_id or uuid.uuid4()
    async with reports.app.state.runtime.sessionmaker() as session, session.begin():
        await upsert_user(
            session,
            snapshot=UserCreated(
                user_id=user_id,
                username=f"{role}{user_id.hex[:8]}",
                full_name=f"{role.title()} {user_id.hex[:6]}",
                email=f"{role}-{user_id.hex[:8]}@example.test" if email else None,
                role=role,
                unit_id=None,
                is_active=active,
                revision=revision,
                updated_at=datetime.now(UTC),
            ),
        )
    return user_id


class Caller:
    def __init__(self, reports: Reports, role: Role, user_id: uuid.UUID | None = None) -> None:
        self.reports = reports
        self.user_id = user_id or uuid.uuid4()
        self.headers = reports.headers(role, user_id=self.user_id, name=f"{role} {self.user_id}")

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        return await self.reports.client.request(method, path, json=body, headers=self.headers)


def body(recipients: list[uuid.UUID], **changes: Any) -> dict[str, Any]:
    return {
        "name": "Kinerja mingguan",
        "report": "summary",
        "cadence": "weekly",
        "filters": {"priority": "high"},
        "options": {"group_by": "day", "by": "agent"},
        "recipient_ids": [str(r) for r in recipients],
        "language": "id",
        **changes,
    }


def fields(response: Any) -> list[str]:
    return [f["field"] for f in response.json()["error"]["fields"]]


@pytest.fixture(scope="module")
async def recipients(reports: Reports) -> list[uuid.UUID]:
    return [await person(reports, "leader"), await person(reports, "agent")]


async def test_a_leader_subscribes_and_sees_only_their_own_schedules(
    reports: Reports, recipients: list[uuid.UUID]
) -> None:
    leader, other, admin = (
        Caller(reports, "leader"),
        Caller(reports, "leader"),
        Caller(reports, "admin"),
    )
    before = datetime.now(UTC)
    created = await leader.call("POST", "/schedules", body(recipients))
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["owner_id"] == str(leader.user_id)
    assert schedule["filters"] == {
        "priority": "high",
        "unit_id": None,
        "category_id": None,
        "agent_id": None,
        "channel": None,
    }
    assert schedule["options"] == {"group_by": "day", "by": "agent"}
    assert (schedule["version"], schedule["is_active"]) == (1, True)
    # The first period is the current week; its report is due next Monday at 07:00 WIB.
    today = before.astimezone(JAKARTA).date()
    monday = today - timedelta(days=today.weekday())
    assert schedule["next_period_from"] == monday.isoformat()
    assert schedule["next_period_to"] == (monday + timedelta(days=6)).isoformat()
    due = datetime.combine(monday + timedelta(days=7), time(7), JAKARTA)
    assert datetime.fromisoformat(schedule["due_at"]) == due

    mine = await leader.call("GET", "/schedules")
    assert [s["id"] for s in mine.json()["items"]] == [schedule["id"]]
    assert (await other.call("GET", "/schedules")).json()["items"] == []
    assert (await other.call("GET", f"/schedules/{schedule['id']}")).status_code == 404
    assert (await other.call("DELETE", f"/schedules/{schedule['id']}")).status_code == 404
    assert (
        await other.call("PATCH", f"/schedules/{schedule['id']}", {"name": "x"})
    ).status_code == 404
    assert (await other.call("GET", f"/schedules/{schedule['id']}/runs")).status_code == 404
    # An administrator sees and edits everyone's.
    everyone = await admin.call("GET", "/schedules?limit=100")
    assert schedule["id"] in {s["id"] for s in everyone.json()["items"]}
    renamed = await admin.call("PATCH", f"/schedules/{schedule['id']}", {"name": "Bulanan"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["owner_id"] == str(leader.user_id)

    assert (await leader.call("DELETE", f"/schedules/{schedule['id']}")).status_code == 204
    assert (await leader.call("GET", f"/schedules/{schedule['id']}")).status_code == 404


async def test_the_list_pages_newest_first(reports: Reports, recipients: list[uuid.UUID]) -> None:
    leader = Caller(reports, "leader")
    ids = [
        (await leader.call("POST", "/schedules", body(recipients, name=f"S{n}"))).json()["id"]
        for n in range(3)
    ]
    first = (await leader.call("GET", "/schedules?limit=2")).json()
    second = (await leader.call("GET", f"/schedules?limit=2&cursor={first['next_cursor']}")).json()
    assert [s["id"] for s in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    bad = await leader.call("GET", "/schedules?cursor=nonsense")
    assert (bad.status_code, fields(bad)) == (422, ["cursor"])


@pytest.mark.parametrize("role", ["requester", "agent"])
async def test_requesters_and_agents_may_not(
    reports: Reports, recipients: list[uuid.UUID], role: Role
) -> None:
    caller = Caller(reports, role)
    assert (await caller.call("GET", "/schedules")).status_code == 403
    assert (await caller.call("GET", "/schedules/recipients")).status_code == 403
    assert (await caller.call("POST", "/schedules", body(recipients))).status_code == 403


async def test_recipients_are_active_staff_with_an_address(reports: Reports) -> None:
    agent = await person(reports, "agent")
    admin = await person(reports, "admin")
    requester = await person(reports, "requester")
    inactive = await person(reports, "leader", active=False)
    no_address = await person(reports, "leader", email=False)
    listed = await Caller(reports, "leader").call("GET", "/schedules/recipients")
    assert listed.status_code == 200
    ids = {r["id"] for r in listed.json()}
    assert {str(agent), str(admin)} <= ids
    assert not {str(requester), str(inactive), str(no_address)} & ids
    entry = next(r for r in listed.json() if r["id"] == str(agent))
    assert entry["role"] == "agent" and entry["email"].endswith("@example.test")

    leader = Caller(reports, "leader")
    for bad in (requester, inactive, no_address, uuid.uuid4()):
        refused = await leader.call("POST", "/schedules", body([agent, bad]))
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid_recipient"
        assert fields(refused) == ["recipient_ids"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"report": "everything"}, "report"),
        ({"cadence": "daily"}, "cadence"),
        ({"recipient_ids": []}, "recipient_ids"),
        ({"recipient_ids": [str(uuid.uuid4()) for _ in range(21)]}, "recipient_ids"),
        ({"language": "fr"}, "language"),
        ({"filters": {"unit_id": str(uuid.uuid4())}}, "filters.unit_id"),
        ({"filters": {"agent_id": str(uuid.uuid4())}}, "filters.agent_id"),
        ({"filters": {"colour": "red"}}, "filters.colour"),
        ({"options": {"group_by": "hour"}}, "options.group_by"),
        ({"options": {"by": "colour"}}, "options.by"),
    ],
)
async def test_bad_input_names_the_field(
    reports: Reports, recipients: list[uuid.UUID], changes: dict[str, Any], field: str
) -> None:
    refused = await Caller(reports, "leader").call(
        "POST", "/schedules", body(recipients, **changes)
    )
    assert refused.status_code == 422, refused.text
    assert fields(refused) == [field]


async def test_a_stale_version_is_refused(reports: Reports, recipients: list[uuid.UUID]) -> None:
    leader = Caller(reports, "leader")
    schedule = (await leader.call("POST", "/schedules", body(recipients))).json()
    path = f"/schedules/{schedule['id']}"
    changed = await leader.call("PATCH", path, {"name": "Baru", "version": 1})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["version"]) == ("Baru", 2)
    stale = await leader.call("PATCH", path, {"name": "Lama", "version": 1})
    # As the tickets service answers a stale version (helpdesk_common.errors.StaleVersion).
    assert stale.status_code == 412
    assert stale.json()["error"]["current_version"] == 2
    assert stale.json()["error"]["code"] == "version_mismatch"
    assert (await leader.call("GET", path)).json()["name"] == "Baru"
    bad = await leader.call("PATCH", path, {"filters": {"unit_id": str(uuid.uuid4())}})
    assert (bad.status_code, fields(bad)) == (422, ["filters.unit_id"])


async def test_a_schedule_switched_back_on_starts_with_the_current_period(
    reports: Reports, recipients: list[uuid.UUID]
) -> None:
    leader = Caller(reports, "leader")
    schedule = (await leader.call("POST", "/schedules", body(recipients, cadence="monthly"))).json()
    path = f"/schedules/{schedule['id']}"
    assert schedule["next_period_from"] == date.today().replace(day=1).isoformat() or (
        # Around midnight UTC the office may already be in another month.
        datetime.now(JAKARTA).date().replace(day=1).isoformat() == schedule["next_period_from"]
    )
    off = await leader.call("PATCH", path, {"is_active": False})
    assert off.json()["is_active"] is False
    # Switched off for a year: the periods missed meanwhile are not sent when it is back on.
    await _set(reports, schedule["id"], next_period_from=date(2025, 1, 1))
    on = (await leader.call("PATCH", path, {"is_active": True})).json()
    assert on["next_period_from"] == schedule["next_period_from"]
    assert on["due_at"] == schedule["due_at"]
    weekly = (await leader.call("PATCH", path, {"cadence": "weekly"})).json()
    today = datetime.now(JAKARTA).date()
    assert weekly["next_period_from"] == (today - timedelta(days=today.weekday())).isoformat()


async def _set(reports: Reports, schedule_id: str, **values: Any) -> None:
    async with reports.app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            sa.update(ReportSchedule)
            .where(ReportSchedule.id == uuid.UUID(schedule_id))
            .values(**values)
        )


async def _runs(reports: Reports, schedule_id: str) -> list[ReportRun]:
    async with reports.app.state.runtime.sessionmaker() as session:
        return list(
            await session.scalars(
                sa.select(ReportRun).where(ReportRun.schedule_id == uuid.UUID(schedule_id))
            )
        )


async def test_a_run_with_nobody_left_to_receive_it_is_skipped(reports: Reports) -> None:
    leaving = await person(reports, "agent")
    leader = Caller(reports, "leader")
    schedule = (await leader.call("POST", "/schedules", body([leaving]))).json()
    # Deactivated since; the period ended long ago.
    await person(reports, "agent", active=False, revision=2, user_id=leaving)
    await _set(
        reports,
        schedule["id"],
        next_period_from=date(2026, 6, 1),
        due_at=datetime(2026, 6, 8, 0, 0, tzinfo=UTC),
    )
    # The replica's own worker may be first to it: either way the period runs once.
    while await run_next_due(reports.app.state.runtime):
        pass
    runs = await _runs(reports, schedule["id"])
    (run,) = [r for r in runs if r.period_from == date(2026, 6, 1)]
    # Every week since, once each (the unique key), nobody left to receive any of them.
    assert len({r.period_from for r in runs}) == len(runs)
    assert {r.status for r in runs} == {"skipped"}
    assert (run.status, run.detail, run.recipient_count) == ("skipped", "no_recipients", 0)
    assert (run.period_from, run.period_to) == (date(2026, 6, 1), date(2026, 6, 7))
    listed = (await leader.call("GET", f"/schedules/{schedule['id']}/runs?limit=100")).json()
    assert len(listed["items"]) == len(runs)
    after = (await leader.call("GET", f"/schedules/{schedule['id']}")).json()
    # Every period since ran too (oldest first) and the schedule waits for the current one.
    assert datetime.fromisoformat(after["due_at"]) > datetime.now(UTC)
    periods = [r["period_from"] for r in listed["items"]]
    assert periods == sorted(periods, reverse=True)
    assert periods[-1] == "2026-06-01"


async def test_a_period_that_keeps_failing_is_retried_then_recorded_as_failed(
    reports: Reports, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = await person(reports, "agent")
    leader = Caller(reports, "leader")
    schedule = (await leader.call("POST", "/schedules", body([agent]))).json()
    path = f"/schedules/{schedule['id']}"

    async def broken(session: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the PDF engine is broken")

    monkeypatch.setattr(worker, "render_report_pdf", broken)
    today = datetime.now(JAKARTA).date()
    last_week = today - timedelta(days=today.weekday() + 7)
    await _set(reports, schedule["id"], next_period_from=last_week)
    attempts = reports.settings.schedule_max_attempts
    for _ in range(attempts):
        await _set(reports, schedule["id"], due_at=datetime.now(UTC) - timedelta(seconds=1))
        # Rolled back (no run row); retried later, not at once.
        assert await run_next_due(reports.app.state.runtime)
        state = (await leader.call("GET", path)).json()
        if state["next_period_from"] == last_week.isoformat():
            assert "the PDF engine is broken" in state["last_error"]
            assert datetime.fromisoformat(state["due_at"]) > datetime.now(UTC)
            assert await _runs(reports, schedule["id"]) == []
    # After the last attempt: recorded as failed, and on to the current week.
    (run,) = await _runs(reports, schedule["id"])
    assert (run.period_from, run.status) == (last_week, "failed")
    assert run.detail is not None and "the PDF engine is broken" in run.detail
    state = (await leader.call("GET", path)).json()
    assert state["next_period_from"] == (last_week + timedelta(days=7)).isoformat()
