"""Queues: the list's capped total, saved views with their counts, and bulk actions that run
each ticket through the single action's rules."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from helpdesk_testing import eventually
from tickets.models import metadata
from tickets.queues.models import SavedView

from .conftest import Person, World, tap
from .conftest import events_of as all_events_of

# Small, so that "more than the threshold" takes four tickets.
WORLD_SETTINGS = {"count_threshold": 3, "views_max_per_user": 5}


async def listing(world: World, who: Person, **query: Any) -> dict[str, Any]:
    response = await world.client.get("/tickets", params=query, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def views(world: World, who: Person) -> dict[str, dict[str, Any]]:
    """The caller's views by key (built-in) or name (saved)."""
    response = await world.client.get("/views", headers=who.headers)
    assert response.status_code == 200, response.text
    return {view["key"] or view["name"]: view for view in response.json()}


async def save_view(world: World, who: Person, name: str, params: dict[str, Any]) -> Any:
    return await world.client.post(
        "/views", json={"name": name, "params": params}, headers=who.headers
    )


def events_of(seen: list[Any], ticket: dict[str, Any]) -> list[Any]:
    """The events of changes made after ``ticket`` was read (the relay may still deliver
    earlier ones once the tap is open)."""
    return [
        e
        for e in all_events_of(seen, ticket["id"])
        if e.payload["ticket"]["version"] > ticket["version"]
    ]


async def saved_count(world: World) -> int:
    async with world.app.state.runtime.sessionmaker() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(SavedView)) or 0)


# -- the list's total ----------------------------------------------------------------------


async def test_the_first_page_counts_exactly_up_to_the_threshold_then_caps(world):
    agent = await world.person("agent")
    unit = await world.unit()
    for _ in range(2):
        await world.create(agent, unit_id=str(unit))

    first = await listing(world, agent, unit_id=str(unit), limit=1)
    assert (first["total"], first["total_exact"]) == (2, True)
    assert len(first["items"]) == 1 and first["next_cursor"]
    # Only the first page counts: a next page is just the page.
    second = await listing(world, agent, unit_id=str(unit), limit=1, cursor=first["next_cursor"])
    assert (second["total"], second["total_exact"]) == (None, None)

    for _ in range(2):
        await world.create(agent, unit_id=str(unit))
    capped = await listing(world, agent, unit_id=str(unit))
    assert len(capped["items"]) == 4
    assert (capped["total"], capped["total_exact"]) == (3, False)

    # The same filters as the list: none of this unit's tickets is resolved.
    none = await listing(world, agent, unit_id=str(unit), status="resolved")
    assert (none["items"], none["total"], none["total_exact"]) == ([], 0, True)


async def test_requesters_count_only_their_own_units_tickets(world):
    agent = await world.person("agent")
    mine, other = await world.unit(), await world.unit()
    requester = await world.person("requester", unit_id=mine)
    await world.create(requester)
    await world.create(agent, unit_id=str(other))
    await world.create(agent, unit_id=str(other))

    own = await listing(world, requester)
    assert (own["total"], own["total_exact"]) == (1, True)
    # Naming another unit shows (and counts) nothing of it.
    assert (await listing(world, requester, unit_id=str(other)))["total"] == 0
    assert (await listing(world, agent, unit_id=str(other)))["total"] == 2


# -- views -----------------------------------------------------------------------------------


async def test_built_in_views_per_role_with_counts(world):
    agent = await world.person("agent")
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit)
    held = await world.create(requester)
    assert (await world.act(agent, held, "claim")).status_code == 200
    waiting = await world.create(requester)
    assert (await world.act(agent, waiting, "claim")).status_code == 200
    assert (await world.act(agent, waiting, "pending", reason="Nomor HP?")).status_code == 200
    done = await world.create(requester)
    assert (await world.act(agent, done, "claim")).status_code == 200
    resolved = await world.act(agent, done, "resolve", result_summary="Sudah normal")
    assert resolved.status_code == 200
    await world.create(requester)  # new, unassigned

    staff = await views(world, agent)
    assert list(staff)[:5] == ["all", "mine", "unassigned", "overdue", "waiting_requester"]
    assert staff["mine"]["name"] == "Tiket saya" and staff["mine"]["builtin"] is True
    # This agent holds two open tickets (one in progress, one pending).
    assert (staff["mine"]["count"], staff["mine"]["count_exact"]) == (2, True)
    assert staff["mine"]["params"] == {"assignee": "me", "status": "new,in_progress,pending"}

    own = await views(world, requester)
    assert list(own) == ["all", "open", "to_confirm"]
    # The unit's tickets only: three open (new, in progress, pending), one resolved.
    assert (own["all"]["count"], own["all"]["count_exact"]) == (3, False)  # 4 > threshold
    assert (own["open"]["count"], own["open"]["count_exact"]) == (3, True)
    assert (own["to_confirm"]["count"], own["to_confirm"]["count_exact"]) == (1, True)

    leader = await views(world, await world.person("leader"))
    assert list(leader) == ["all", "open", "overdue"]


async def test_saved_views_are_created_renamed_reordered_and_deleted(world):
    agent = await world.person("agent")
    unit = await world.unit()
    for _ in range(2):
        await world.create(agent, unit_id=str(unit))

    created = await save_view(
        world, agent, "Dinas X baru", {"unit_id": str(unit), "status": ["new"]}
    )
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["params"] == {"unit_id": str(unit), "status": "new"}
    assert (first["count"], first["count_exact"], first["builtin"]) == (2, True, False)
    second = (
        await save_view(world, agent, "Terlambat unit X", {"unit_id": str(unit), "overdue": True})
    ).json()
    third = (
        await save_view(world, agent, "Cari printer", {"q": "printer", "sort": "-updated_at"})
    ).json()

    listed = await views(world, agent)
    assert [v["name"] for v in listed.values() if not v["builtin"]] == [
        "Dinas X baru",
        "Terlambat unit X",
        "Cari printer",
    ]
    assert listed["Dinas X baru"]["count"] == 2 and listed["Terlambat unit X"]["count"] == 0

    # The view's count is the list's total for the same parameters.
    total = (await listing(world, agent, unit_id=str(unit), status="new"))["total"]
    assert listed["Dinas X baru"]["count"] == total

    renamed = await world.client.patch(
        f"/views/{second['id']}", json={"name": "Unit X lewat SLA"}, headers=agent.headers
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Unit X lewat SLA"
    moved = await world.client.patch(
        f"/views/{third['id']}", json={"position": 0}, headers=agent.headers
    )
    assert moved.status_code == 200, moved.text
    listed = await views(world, agent)
    assert [v["name"] for v in listed.values() if not v["builtin"]] == [
        "Cari printer",
        "Dinas X baru",
        "Unit X lewat SLA",
    ]
    assert [v["position"] for v in listed.values() if not v["builtin"]] == [0, 1, 2]

    deleted = await world.client.delete(f"/views/{first['id']}", headers=agent.headers)
    assert deleted.status_code == 204
    listed = await views(world, agent)
    assert "Dinas X baru" not in listed
    gone = await world.client.delete(f"/views/{first['id']}", headers=agent.headers)
    assert gone.status_code == 404


async def test_bad_views_get_422_naming_the_field_and_save_nothing(world):
    agent = await world.person("agent")
    ok = await save_view(world, agent, "Jaringan", {"status": ["new"]})
    assert ok.status_code == 201
    before = await saved_count(world)
    cases = [
        ({"name": "", "params": {}}, "name"),
        ({"name": "   ", "params": {}}, "name"),
        ({"name": "x" * 61, "params": {}}, "name"),
        ({"name": "jaringan", "params": {}}, "name"),  # duplicate, whatever the case
        ({"name": "Tiket saya", "params": {}}, "name"),  # a built-in view's name
        ({"name": "A", "params": {"colour": "red"}}, "params.colour"),
        ({"name": "A", "params": {"status": ["open"]}}, "params.status"),
        # Each filter has the list's type: statuses are a list, overdue a JSON boolean (not
        # the query string's "true" or 0).
        ({"name": "A", "params": {"status": "new"}}, "params.status"),
        ({"name": "A", "params": {"overdue": 0}}, "params.overdue"),
        ({"name": "A", "params": {"overdue": "true"}}, "params.overdue"),
        ({"name": "A", "params": {"unit_id": "not-a-uuid"}}, "params.unit_id"),
        ({"name": "A", "params": {"assignee": "someone"}}, "params.assignee"),
        ({"name": "A", "params": {"overdue": "maybe"}}, "params.overdue"),
        ({"name": "A", "params": {"sort": "colour"}}, "params.sort"),
        # Judged as sent, as the list would judge it (not trimmed, not left out when empty).
        ({"name": "A", "params": {"sort": ""}}, "params.sort"),
        ({"name": "A", "params": {"assignee": " me"}}, "params.assignee"),
        ({"name": "A", "params": {"created_from": "yesterday"}}, "params.created_from"),
        ({"name": "A", "params": {"q": "x" * 201}}, "params.q"),
        ({"name": "A", "params": {}, "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        response = await world.client.post("/views", json=body, headers=agent.headers)
        assert response.status_code == 422, (body, response.text)
        fields = [f["field"] for f in response.json()["error"]["fields"]]
        assert field in fields, (body, fields)
    assert await saved_count(world) == before

    view_id = ok.json()["id"]
    other = await save_view(world, agent, "Lainnya", {})
    bad_rename = await world.client.patch(
        f"/views/{other.json()['id']}", json={"name": "JARINGAN"}, headers=agent.headers
    )
    assert bad_rename.status_code == 422
    assert bad_rename.json()["error"]["fields"][0]["field"] == "name"
    bad_params = await world.client.patch(
        f"/views/{view_id}", json={"params": {"status": ["lost"]}}, headers=agent.headers
    )
    assert bad_params.status_code == 422
    assert (await views(world, agent))["Jaringan"]["params"] == {"status": "new"}


async def test_a_users_views_are_theirs_alone(world):
    agent, colleague = await world.person("agent"), await world.person("agent")
    view = (await save_view(world, agent, "Punya saya", {"status": ["new"]})).json()
    assert "Punya saya" not in await views(world, colleague)
    for method, body in (("PATCH", {"name": "Diambil"}), ("DELETE", None)):
        response = await world.client.request(
            method, f"/views/{view['id']}", json=body, headers=colleague.headers
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "view_not_found"
    assert (await views(world, agent))["Punya saya"]["name"] == "Punya saya"
    # Built-in views are not anyone's to change; an id that is none is not found.
    builtin = await world.client.delete("/views/mine", headers=agent.headers)
    assert builtin.status_code == 403
    unknown = await world.client.delete("/views/nothing", headers=agent.headers)
    assert unknown.status_code == 404


async def test_a_user_may_keep_only_so_many_views(world):
    agent = await world.person("agent")
    for index in range(world.settings.views_max_per_user):
        response = await save_view(world, agent, f"View {index}", {})
        assert response.status_code == 201, response.text
    response = await save_view(world, agent, "Satu lagi", {})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_many_views"


async def test_the_saved_views_table_is_migrated_as_declared(world):
    def differences(connection: Any) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with world.app.state.runtime.engine.connect() as connection:
        diffs = await connection.run_sync(differences)
    assert [d for d in diffs if "saved_views" in repr(d)] == []


# -- bulk actions ------------------------------------------------------------------------------


async def bulk(world: World, who: Person, **body: Any) -> Any:
    return await world.client.post("/tickets/bulk", json=body, headers=who.headers)


async def test_bulk_assign_reports_each_ticket_and_one_failure_stops_none(world, amqp_url):
    dispatcher = await world.person("admin")
    worker = await world.person("agent", name="Bayu")
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit)
    fresh = [await world.create(requester) for _ in range(3)]
    stale = await world.create(requester)
    edited = await world.client.patch(
        f"/tickets/{stale['id']}",
        json={"title": "Judul diubah", "version": 1},
        headers=dispatcher.headers,
    )
    assert edited.status_code == 200
    missing = str(uuid.uuid4())

    async with tap(world.settings, amqp_url) as seen:
        response = await bulk(
            world,
            dispatcher,
            action="assign",
            assignee_id=str(worker.user_id),
            tickets=[
                {"id": fresh[0]["id"], "version": 1},
                {"id": stale["id"], "version": 1},  # changed since: 412's reason
                {"id": missing},
                {"id": fresh[1]["number"]},  # by number, no version
                {"id": fresh[2]["id"], "version": 1},
            ],
        )
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        await eventually(
            lambda: all(
                Counter(e.event_type for e in events_of(seen, ticket))
                == Counter({"ticket.assigned": 1})
                for ticket in fresh
            ),
            timeout=15,
        )
        await asyncio.sleep(0.3)
        # The stale ticket was not touched: no event for it.
        assert events_of(seen, edited.json()) == []

    assert [r["ok"] for r in results] == [True, False, False, True, True]
    first, stale_result, missing_result, by_number, _ = results
    assert first["number"] == fresh[0]["number"] and first["ticket_version"] == 2
    assert stale_result["error"]["code"] == "version_mismatch"
    assert (stale_result["number"], stale_result["ticket_version"]) == (stale["number"], 2)
    assert stale_result["status"] == "new"
    assert missing_result == {
        "id": missing,
        "number": None,
        "ok": False,
        "status": None,
        "error": {"code": "not_found", "message": "Ticket not found"},
        "ticket_version": None,
    }
    assert by_number["id"] == fresh[1]["id"]

    # The same as the single action: the ticket and its timeline say who assigned whom.
    ticket = (await world.client.get(f"/tickets/{fresh[0]['id']}", headers=worker.headers)).json()
    assert ticket["assignee_id"] == str(worker.user_id) and ticket["assignee_name"] == "Bayu"
    timeline = await world.client.get(f"/tickets/{fresh[0]['id']}/timeline", headers=worker.headers)
    line = timeline.json()[-1]
    assert line["kind"] == "assign" and line["actor_id"] == str(dispatcher.user_id)

    # Assigning again without the version is refused as a reassignment is alone.
    again = await bulk(
        world,
        dispatcher,
        action="assign",
        assignee_id=str(worker.user_id),
        tickets=[{"id": fresh[0]["id"]}],
    )
    assert again.json()["results"][0]["error"]["code"] == "already_assigned"


async def test_bulk_close_follows_the_policy_per_ticket(world, amqp_url):
    agent = await world.person("agent")
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit)
    done = await world.create(requester)
    assert (await world.act(agent, done, "claim")).status_code == 200
    resolved = await world.act(agent, done, "resolve", result_summary="Beres")
    assert resolved.status_code == 200
    still_new = await world.create(requester)

    async with tap(world.settings, amqp_url) as seen:
        response = await bulk(
            world,
            agent,
            action="close",
            reason="Dikonfirmasi lewat telepon",
            tickets=[{"id": done["id"]}, {"id": still_new["id"], "version": 1}],
        )
        assert response.status_code == 200, response.text
        await eventually(
            lambda: (
                Counter(e.event_type for e in events_of(seen, resolved.json()))
                == Counter({"ticket.status_changed": 1, "ticket.closed": 1})
            ),
            timeout=15,
        )
    closed, refused = response.json()["results"]
    assert (closed["ok"], closed["status"], closed["ticket_version"]) == (True, "closed", 4)
    assert refused["ok"] is False and refused["status"] == "new"
    assert refused["error"]["code"] == "invalid_transition"
    assert "Cannot close a ticket that is new" in refused["error"]["message"]
    timeline = await world.client.get(f"/tickets/{done['id']}/timeline", headers=agent.headers)
    assert timeline.json()[-1]["note"] == "Dikonfirmasi lewat telepon"


async def test_bulk_priority_needs_each_tickets_version(world):
    agent = await world.person("agent")
    unit = await world.unit()
    tickets = [await world.create(agent, unit_id=str(unit)) for _ in range(2)]
    response = await bulk(
        world,
        agent,
        action="priority",
        priority="high",
        tickets=[{"id": tickets[0]["id"], "version": 1}, {"id": tickets[1]["id"]}],
    )
    assert response.status_code == 200, response.text
    changed, unversioned = response.json()["results"]
    assert changed["ok"] and changed["ticket_version"] == 2
    assert unversioned["error"]["code"] == "precondition_required"
    first = (await world.client.get(f"/tickets/{tickets[0]['id']}", headers=agent.headers)).json()
    assert (first["priority"], first["priority_source"]) == ("high", "manual")
    second = (await world.client.get(f"/tickets/{tickets[1]['id']}", headers=agent.headers)).json()
    assert second["version"] == 1


async def test_bulk_requests_are_checked_as_a_whole_first(world):
    agent = await world.person("agent")
    ticket = await world.create(agent)
    one = [{"id": ticket["id"], "version": 1}]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"action": "assign", "tickets": one}, 422, "assignee_id"),
        (
            {"action": "assign", "tickets": one, "assignee_id": str(uuid.uuid4())},
            422,
            "assignee_id",
        ),
        ({"action": "priority", "tickets": one}, 422, "priority"),
        ({"action": "priority", "tickets": one, "priority": "urgent"}, 422, "priority"),
        ({"action": "delete", "tickets": one}, 422, "action"),
        ({"action": "close", "tickets": []}, 422, "tickets"),
        ({"action": "close", "tickets": [{"id": ticket["id"]}] * 101}, 422, "tickets"),
        (
            {"action": "close", "tickets": [{"id": ticket["id"]}, {"id": ticket["id"]}]},
            422,
            "tickets.1.id",
        ),
        (
            {"action": "close", "tickets": [{"id": ticket["id"], "version": 0}]},
            422,
            "tickets.0.version",
        ),
    ]
    for body, status, field in cases:
        response = await bulk(world, agent, **body)
        assert response.status_code == status, (body, response.text)
        assert field in [f["field"] for f in response.json()["error"]["fields"]], (
            body,
            response.text,
        )
    for role in ("requester", "leader"):
        person = await world.person(role, unit_id=await world.unit())
        response = await bulk(world, person, action="close", tickets=one)
        assert response.status_code == 403, role
    unchanged = (await world.client.get(f"/tickets/{ticket['id']}", headers=agent.headers)).json()
    assert unchanged["version"] == 1
