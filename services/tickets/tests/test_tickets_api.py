"""Creating, reading, editing, commenting and listing tickets over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from helpdesk_common.outbox import outbox_table
from tickets.tickets.models import Ticket, TimelineEntry


async def count_rows(world, table) -> int:
    async with world.app.state.runtime.sessionmaker() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


# -- create -------------------------------------------------------------------------------


async def test_requester_creates_for_their_own_unit(world):
    unit = await world.unit("Dinas Pendidikan")
    requester = await world.person("requester", unit_id=unit, name="Siti Rahma")
    ticket = await world.create(requester, contact_phone="+62 812 3456 7890")
    assert ticket["status"] == "new" and ticket["status_label"] == "Baru"
    assert ticket["unit_id"] == str(unit) and ticket["unit_name"] == "Dinas Pendidikan"
    assert ticket["requester_name"] == "Siti Rahma" and ticket["contact_name"] == "Siti Rahma"
    assert ticket["number"].startswith(f"TKT-{datetime.now(UTC).year}-")
    assert ticket["version"] == 1
    assert ticket["first_response_due_at"] and ticket["resolution_due_at"]
    assert "comment" in ticket["allowed_actions"] and "claim" not in ticket["allowed_actions"]


async def test_requester_cannot_create_for_another_unit_or_choose_the_priority(world):
    requester = await world.person("requester", unit_id=await world.unit())
    other = await world.unit()
    category = await world.category_id()
    base = {"title": "Internet mati", "description": "Sejak pagi", "category_id": category}
    response = await world.client.post(
        "/tickets", json={**base, "unit_id": str(other)}, headers=requester.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "unit_id"
    response = await world.client.post(
        "/tickets", json={**base, "priority": "critical"}, headers=requester.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "priority"


async def test_agent_creates_on_behalf_of_a_unit_and_may_set_the_priority(world):
    agent = await world.person("agent")
    unit = await world.unit()
    member = await world.person("requester", unit_id=unit, name="Budi")
    ticket = await world.create(
        agent, unit_id=str(unit), priority="high", requester_id=str(member.user_id)
    )
    assert ticket["priority"] == "high" and ticket["priority_source"] == "manual"
    assert ticket["requester_id"] == str(member.user_id) and ticket["requester_name"] == "Budi"
    assert ticket["created_by_id"] == str(agent.user_id)

    category = await world.category_id()
    response = await world.client.post(
        "/tickets",
        json={"title": "Tanpa unit", "description": "x", "category_id": category},
        headers=agent.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "unit_id"


async def test_admins_and_leaders_do_not_create_tickets(world):
    for role in ("admin", "leader"):
        person = await world.person(role)
        response = await world.client.post(
            "/tickets",
            json={
                "title": "Coba",
                "description": "x",
                "category_id": await world.category_id(),
                "unit_id": str(await world.unit()),
            },
            headers=person.headers,
        )
        assert response.status_code == 403, role


async def test_priority_comes_from_category_default_then_keyword_rules(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent", known=False)
    categories = (await world.client.get("/categories", headers=agent.headers)).json()
    network = next(c["id"] for c in categories if c["name"] == "Jaringan & Internet")
    by_category = await world.create(requester, category_id=network)
    assert (by_category["priority"], by_category["priority_source"]) == ("high", "category")
    by_rule = await world.create(
        requester, title="Server down di ruang server", description="Semua aplikasi mati"
    )
    assert (by_rule["priority"], by_rule["priority_source"]) == ("critical", "rule")
    plain = await world.create(requester)
    assert (plain["priority"], plain["priority_source"]) == ("normal", "category")


async def test_bad_input_gets_4xx_naming_the_field_and_leaves_nothing_behind(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    category = await world.category_id()
    tickets_before = await count_rows(world, Ticket)
    outbox_before = await count_rows(world, outbox_table)
    valid = {"title": "Judul yang sah", "description": "Isi", "category_id": category}
    cases = [
        (requester, {"description": "x", "category_id": category}, 422, "title"),
        (requester, {**valid, "title": "x" * 201}, 422, "title"),
        (requester, {**valid, "description": "x" * 10_001}, 422, "description"),
        (requester, {**valid, "category_id": str(uuid.uuid4())}, 422, "category_id"),
        (requester, {**valid, "category_id": "not-a-uuid"}, 422, "category_id"),
        (requester, {**valid, "contact_email": "bukan email"}, 422, "contact_email"),
        (requester, {**valid, "colour": "red"}, 422, "colour"),
        (agent, {**valid, "unit_id": str(uuid.uuid4())}, 422, "unit_id"),
        (agent, {**valid, "unit_id": str(await world.unit(active=False))}, 422, "unit_id"),
        (
            agent,
            {**valid, "unit_id": str(await world.unit()), "priority": "urgent"},
            422,
            "priority",
        ),
        (
            agent,
            {**valid, "unit_id": str(requester.unit_id), "requester_id": str(uuid.uuid4())},
            422,
            "requester_id",
        ),
        (
            agent,
            {**valid, "unit_id": str(await world.unit()), "requester_id": str(requester.user_id)},
            422,
            "requester_id",
        ),
    ]
    for who, body, status, field in cases:
        response = await world.client.post("/tickets", json=body, headers=who.headers)
        assert response.status_code == status, (body, response.text)
        fields = [f["field"] for f in response.json()["error"]["fields"]]
        assert field in fields, (body, response.text)

    response = await world.client.post(
        "/tickets",
        content=b'{"title": "broken',
        headers={**requester.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"][0]["field"] == "body"

    response = await world.client.post(
        "/tickets",
        content=b"x" * (world.settings.max_body_bytes + 1),
        headers={**requester.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413

    assert await count_rows(world, Ticket) == tickets_before
    assert await count_rows(world, outbox_table) == outbox_before


async def test_unauthenticated_requests_are_refused(world):
    assert (await world.client.get("/tickets")).status_code == 401
    response = await world.client.get("/tickets", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401


# -- read -----------------------------------------------------------------------------------


async def test_ticket_by_id_or_number_with_etag(world):
    requester = await world.person("requester", unit_id=await world.unit())
    ticket = await world.create(requester)
    for ref in (ticket["id"], ticket["number"], ticket["number"].lower()):
        response = await world.client.get(f"/tickets/{ref}", headers=requester.headers)
        assert response.status_code == 200
        assert response.json()["id"] == ticket["id"]
        assert response.headers["ETag"] == '"1"'
    # Not a ticket reference: no ticket's path (the declared pattern), so a 404.
    for path in ("/tickets/12345", "/tickets/12345/timeline", "/tickets/nope/documents/x.pdf"):
        response = await world.client.get(path, headers=requester.headers)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    response = await world.client.get(f"/tickets/{uuid.uuid4()}", headers=requester.headers)
    assert response.status_code == 404


async def test_the_list_s_own_paths_are_never_taken_for_a_ticket(world):
    """/tickets/count, /bulk and /export.csv answer another method with 405 and their Allow
    (a ticket's path matches a ticket reference only)."""
    admin = await world.person("admin")
    for method, path, allow in (
        ("PATCH", "/tickets/count", "GET"),
        ("POST", "/tickets/count", "GET"),
        ("PATCH", "/tickets/export.csv", "GET"),
        ("GET", "/tickets/bulk", "POST"),
        ("PATCH", "/tickets/bulk", "POST"),
        ("POST", "/tickets/count/claim", None),
    ):
        response = await world.client.request(method, path, json={}, headers=admin.headers)
        if allow is None:
            assert response.status_code == 404, (method, path)
        else:
            assert response.status_code == 405, (method, path, response.text)
            assert response.headers["Allow"] == allow, (method, path)


async def test_another_units_ticket_is_a_404_for_a_requester_everywhere(world):
    owner = await world.person("requester", unit_id=await world.unit())
    stranger = await world.person("requester", unit_id=await world.unit())
    ticket = await world.create(owner)
    for method, path, body in [
        ("GET", "", None),
        ("GET", "/comments", None),
        ("GET", "/timeline", None),
        ("POST", "/comments", {"body": "halo"}),
        ("PATCH", "", {"title": "Diubah orang lain", "version": 1}),
        ("POST", "/confirm", None),
        ("POST", "/reopen", {"reason": "tidak beres"}),
        ("POST", "/resume", None),
    ]:
        response = await world.client.request(
            method, f"/tickets/{ticket['id']}{path}", json=body, headers=stranger.headers
        )
        assert response.status_code == 404, (method, path, response.text)
    listing = await world.client.get(
        "/tickets", params={"q": ticket["number"]}, headers=stranger.headers
    )
    assert listing.json()["items"] == []
    listing = await world.client.get(
        "/tickets", params={"unit_id": str(owner.unit_id)}, headers=stranger.headers
    )
    assert listing.json()["items"] == []
    # Staff of every kind see it.
    for role in ("agent", "admin", "leader"):
        staff = await world.person(role, known=False)
        response = await world.client.get(f"/tickets/{ticket['id']}", headers=staff.headers)
        assert response.status_code == 200, role


async def test_another_units_requester_gets_404_on_staff_actions_by_id_or_number(world):
    """Unit scoping comes before the role check: no 403 that would betray the ticket."""
    owner = await world.person("requester", unit_id=await world.unit())
    stranger = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    fresh = await world.create(owner)
    held = await world.create(owner)
    held = (await world.act(agent, held, "claim")).json()
    actions: list[tuple[dict, str, dict | None]] = [
        (fresh, "claim", None),
        (fresh, "assign", {"assignee_id": str(agent.user_id)}),
        (fresh, "accept", None),
        (fresh, "reject", {"reason": "Bukan urusan kami"}),
        (held, "pending", {"reason": "Menunggu data"}),
        (held, "resolve", {"result_summary": "Sudah beres"}),
        (held, "close", None),
    ]
    for ticket, action, body in actions:
        for ref in (ticket["id"], ticket["number"], ticket["number"].lower()):
            response = await world.client.post(
                f"/tickets/{ref}/{action}", json=body, headers=stranger.headers
            )
            assert response.status_code == 404, (action, ref, response.text)
            assert response.json()["error"]["code"] == "not_found"
        # The same request from the ticket's own unit is a 403: the role is what is missing.
        response = await world.client.post(
            f"/tickets/{ticket['number']}/{action}", json=body, headers=owner.headers
        )
        assert response.status_code == 403, (action, response.text)
    for path in ("", "/comments", "/timeline"):
        response = await world.client.get(
            f"/tickets/{fresh['number']}{path}", headers=stranger.headers
        )
        assert response.status_code == 404, (path, response.text)
        response = await world.client.get(
            f"/tickets/{fresh['number']}{path}", headers=owner.headers
        )
        assert response.status_code == 200, (path, response.text)
    for ticket in (fresh, held):
        current = (await world.client.get(f"/tickets/{ticket['id']}", headers=agent.headers)).json()
        assert (current["status"], current["version"]) == (ticket["status"], ticket["version"])


# -- edit -----------------------------------------------------------------------------------


async def test_edit_needs_the_current_version(world):
    agent = await world.person("agent")
    ticket = await world.create(agent)
    path = f"/tickets/{ticket['id']}"
    response = await world.client.patch(path, json={"title": "Judul baru"}, headers=agent.headers)
    assert response.status_code == 428
    response = await world.client.patch(
        path, json={"title": "Judul baru"}, headers={**agent.headers, "If-Match": '"7"'}
    )
    assert response.status_code == 412
    assert response.json()["error"]["current_version"] == 1
    response = await world.client.patch(
        path,
        json={"title": "Judul baru", "priority": "critical"},
        headers={**agent.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["title"] == "Judul baru" and edited["version"] == 2
    assert edited["priority"] == "critical" and edited["priority_source"] == "manual"
    assert edited["resolution_due_at"] < ticket["resolution_due_at"]
    assert response.headers["ETag"] == '"2"'
    # A bad body is refused as such (422 naming the field), stale version or not.
    for body in ({"title": None, "version": 1}, {"priority": None, "version": 1}):
        response = await world.client.patch(path, json=body, headers=agent.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["fields"][0]["field"] == next(iter(body))
    # The same stale version again: refused, nothing overwritten.
    response = await world.client.patch(
        path, json={"title": "Lagi", "version": 1}, headers=agent.headers
    )
    assert response.status_code == 412
    timeline = (await world.client.get(f"{path}/timeline", headers=agent.headers)).json()
    edit = next(e for e in timeline if e["kind"] == "edit")
    assert edit["before"]["title"] == ticket["title"] and edit["after"]["title"] == "Judul baru"
    assert edit["actor_id"] == str(agent.user_id)


async def test_requesters_and_leaders_cannot_edit(world):
    requester = await world.person("requester", unit_id=await world.unit())
    ticket = await world.create(requester)
    for who in (requester, await world.person("leader")):
        response = await world.client.patch(
            f"/tickets/{ticket['id']}",
            json={"title": "Judul baru", "version": 1},
            headers=who.headers,
        )
        assert response.status_code == 403


async def test_finished_tickets_cannot_be_edited(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    steps = {
        "resolved": [("claim", {}), ("resolve", {"result_summary": "Selesai"})],
        "closed": [("claim", {}), ("resolve", {"result_summary": "Selesai"}), ("close", {})],
        "rejected": [("reject", {"reason": "Tidak valid"})],
    }
    for status, actions in steps.items():
        ticket = await world.create(requester)
        for action, body in actions:
            ticket = (await world.act(agent, ticket, action, **body)).json()
        assert ticket["status"] == status
        for who in (agent, await world.person("admin")):
            response = await world.client.patch(
                f"/tickets/{ticket['id']}",
                json={"title": "Judul diubah belakangan", "version": ticket["version"]},
                headers=who.headers,
            )
            assert response.status_code == 409, (status, who.role, response.text)
            assert response.json()["error"]["code"] == "invalid_transition"
        current = (await world.client.get(f"/tickets/{ticket['id']}", headers=agent.headers)).json()
        assert current["title"] == ticket["title"] and current["version"] == ticket["version"]


# -- comments and timeline ------------------------------------------------------------------


async def test_internal_notes_never_reach_the_requester(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    ticket = await world.create(requester)
    path = f"/tickets/{ticket['id']}"
    public = await world.client.post(
        f"{path}/comments", json={"body": "Kami cek ke lokasi"}, headers=agent.headers
    )
    assert public.status_code == 201 and public.json()["internal"] is False
    internal = await world.client.post(
        f"{path}/comments",
        json={"body": "Catatan: switch lantai 2 rusak", "internal": True},
        headers=agent.headers,
    )
    assert internal.status_code == 201 and internal.json()["internal"] is True
    refused = await world.client.post(
        f"{path}/comments", json={"body": "rahasia", "internal": True}, headers=requester.headers
    )
    assert refused.status_code == 403
    reply = await world.client.post(
        f"{path}/comments", json={"body": "Terima kasih"}, headers=requester.headers
    )
    assert reply.status_code == 201

    seen_by_requester = await world.client.get(f"{path}/comments", headers=requester.headers)
    bodies = [c["body"] for c in seen_by_requester.json()]
    assert bodies == ["Kami cek ke lokasi", "Terima kasih"]
    timeline = (await world.client.get(f"{path}/timeline", headers=requester.headers)).json()
    assert "switch lantai 2" not in str(timeline)
    assert all(not entry["internal"] for entry in timeline)

    seen_by_agent = (await world.client.get(f"{path}/comments", headers=agent.headers)).json()
    assert len(seen_by_agent) == 3
    staff_timeline = (await world.client.get(f"{path}/timeline", headers=agent.headers)).json()
    assert "switch lantai 2" in str(staff_timeline)

    # A public comment by staff is the first response; comments leave the version alone.
    current = (await world.client.get(path, headers=agent.headers)).json()
    assert current["first_response_at"] is not None and current["version"] == 1


async def test_internal_notes_and_comments_by_role(world):
    requester = await world.person("requester", unit_id=await world.unit())
    ticket = await world.create(requester)
    path = f"/tickets/{ticket['id']}/comments"
    expected = {
        # (role, internal) -> status
        ("requester", True): 403,
        ("agent", True): 201,
        ("admin", True): 201,
        ("leader", True): 403,
        ("leader", False): 403,
    }
    for (role, internal), status in expected.items():
        who = requester if role == "requester" else await world.person(role)
        response = await world.client.post(
            path, json={"body": f"Catatan {role}", "internal": internal}, headers=who.headers
        )
        assert response.status_code == status, (role, internal, response.text)
        if status == 201:
            assert response.json()["internal"] is True
            assert response.json()["author_role"] == role
    staff = await world.person("agent", known=False)
    stored = (await world.client.get(path, headers=staff.headers)).json()
    assert sorted(c["author_role"] for c in stored) == ["admin", "agent"]
    assert (await world.client.get(path, headers=requester.headers)).json() == []


async def test_bad_comment_and_action_bodies_name_the_field_and_write_nothing(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    ticket = await world.create(requester)
    ticket = (await world.act(agent, ticket, "claim")).json()
    path = f"/tickets/{ticket['id']}"

    async def written() -> tuple[int, int, int]:
        comments = (await world.client.get(f"{path}/comments", headers=agent.headers)).json()
        timeline = (await world.client.get(f"{path}/timeline", headers=agent.headers)).json()
        current = (await world.client.get(path, headers=agent.headers)).json()
        return len(comments), len(timeline), current["version"]

    before = await written()
    raw = {**agent.headers, "Content-Type": "application/json"}
    not_json = b'{"body": "tidak selesai'
    # (endpoint, request, the field the error names)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("comments", {"content": not_json}, "body"),
        ("comments", {"content": b"[1, 2"}, "body"),
        ("comments", {"json": {"body": "x" * 10_001}}, "body"),
        ("comments", {"json": {"body": "   "}}, "body"),
        ("comments", {"json": {"body": "Halo", "internal": "barangkali"}}, "internal"),
        ("comments", {"json": {"body": "Halo", "visibility": "all"}}, "visibility"),
        ("assign", {"content": not_json}, "body"),
        ("assign", {"json": {"assignee_id": "bukan-uuid"}}, "assignee_id"),
        ("assign", {"json": {"assignee_id": 42}}, "assignee_id"),
        ("assign", {"json": {}}, "assignee_id"),
        ("resolve", {"content": not_json}, "body"),
        ("resolve", {"json": {"result_summary": "x" * 10_001}}, "result_summary"),
        ("pending", {"json": {"reason": "Menunggu", "version": 0}}, "version"),
        ("close", {"json": {"reason": "x" * 2_001}}, "reason"),
    ]
    for endpoint, request, field in cases:
        response = await world.client.post(f"{path}/{endpoint}", headers=raw, **request)
        case = (endpoint, request, response.text)
        # Not JSON at all is a 400; JSON that does not fit is a 422.
        assert response.status_code == (400 if "content" in request else 422), case
        assert field in [f["field"] for f in response.json()["error"]["fields"]], case

    response = await world.client.post(
        f"{path}/comments",
        content=b'{"body": "' + b"x" * world.settings.max_body_bytes + b'"}',
        headers=raw,
    )
    assert response.status_code == 413
    assert response.json()["error"]["fields"][0]["field"] == "body"

    assert await written() == before


async def test_timeline_records_every_change_and_cannot_be_changed(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    ticket = await world.create(requester)
    await world.act(agent, ticket, "claim")
    await world.act(agent, ticket, "pending", reason="Menunggu data dari SKPD")
    await world.act(requester, ticket, "resume")
    await world.act(agent, ticket, "resolve", result_summary="Kabel LAN diganti")
    path = f"/tickets/{ticket['id']}/timeline"
    timeline = (await world.client.get(path, headers=agent.headers)).json()
    assert [e["kind"] for e in timeline] == ["created", "claim", "pending", "resume", "resolve"]
    claim = timeline[1]
    assert claim["before"] == {"status": "new", "assignee_id": None, "assignee_name": None}
    assert claim["after"]["status"] == "in_progress"
    assert claim["after"]["assignee_id"] == str(agent.user_id)
    assert timeline[2]["note"] == "Menunggu data dari SKPD"
    assert timeline[3]["actor_role"] == "requester"
    assert all(e["at"] and e["actor_name"] for e in timeline)

    for method in ("PUT", "PATCH", "DELETE"):
        response = await world.client.request(method, path, headers=agent.headers)
        assert response.status_code == 405
    # Not even the service's own database user can rewrite history.
    async with world.app.state.runtime.sessionmaker() as session:
        try:
            async with session.begin():
                await session.execute(
                    sa.update(TimelineEntry)
                    .where(TimelineEntry.ticket_id == uuid.UUID(ticket["id"]))
                    .values(note="rewritten")
                )
        except sa.exc.DBAPIError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError("the timeline accepted an UPDATE")


# -- listing --------------------------------------------------------------------------------


async def test_listing_filters_search_sort_and_cursor(world):
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit)
    agent = await world.person("agent")
    mine = await world.create(
        requester, title="Jaringan wifi lantai tiga putus", description="Tidak bisa terhubung"
    )
    printing = await world.create(
        requester, title="Printer macet", description="Kertas tersangkut saat mencetak laporan"
    )
    created = [mine, printing] + [
        await world.create(requester, title=f"Permintaan nomor {i}") for i in range(5)
    ]
    await world.act(agent, mine, "claim")

    async def listing(who, **params):
        response = await world.client.get("/tickets", params=params, headers=who.headers)
        assert response.status_code == 200, response.text
        return response.json()

    unit_ids = {t["id"] for t in (await listing(agent, unit_id=str(unit), limit=50))["items"]}
    assert unit_ids == {t["id"] for t in created}
    assigned = await listing(agent, assignee="me", unit_id=str(unit))
    assert [t["id"] for t in assigned["items"]] == [mine["id"]]
    unassigned = await listing(agent, assignee="none", unit_id=str(unit), limit=50)
    assert mine["id"] not in {t["id"] for t in unassigned["items"]}
    in_progress = await listing(requester, status="in_progress")
    assert [t["id"] for t in in_progress["items"]] == [mine["id"]]
    several = await listing(requester, status="new,in_progress", limit=50)
    assert len(several["items"]) == len(created)
    # Full text with Indonesian stemming: "cetak" finds "mencetak".
    found = await listing(requester, q="cetak")
    assert [t["id"] for t in found["items"]] == [printing["id"]]
    by_number = await listing(agent, q=printing["number"])
    assert [t["id"] for t in by_number["items"]] == [printing["id"]]
    assert (await listing(requester, category_id=await world.category_id(), limit=50))["items"]
    assert (await listing(requester, priority="critical"))["items"] == []
    now = datetime.now(UTC)
    assert len(
        (await listing(requester, created_from=(now - timedelta(hours=1)).isoformat(), limit=50))[
            "items"
        ]
    ) == len(created)
    assert (await listing(requester, created_to=(now - timedelta(days=1)).date().isoformat()))[
        "items"
    ] == []
    assert (await listing(requester, overdue="true"))["items"] == []

    # Cursor pagination walks every ticket once, in order, for each sort.
    for sort in ("-created_at", "created_at", "number", "-priority", "due", "-updated_at"):
        seen, cursor = [], None
        while True:
            params = {"sort": sort, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = await listing(requester, **params)
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(t["id"] for t in created), sort
        assert len(seen) == len(set(seen)), sort
    numbers = [t["number"] for t in (await listing(requester, sort="number", limit=50))["items"]]
    assert numbers == sorted(numbers)

    for invalid, field in [
        ({"status": "open"}, "status"),
        ({"sort": "colour"}, "sort"),
        ({"cursor": "garbage"}, "cursor"),
        ({"assignee": "someone"}, "assignee"),
        ({"unit_id": "nope"}, "unit_id"),
    ]:
        response = await world.client.get("/tickets", params=invalid, headers=requester.headers)
        assert response.status_code == 422, invalid
        assert response.json()["error"]["fields"][0]["field"] == field


async def set_due(world, ticket: dict[str, Any], **dues: datetime) -> None:
    """Move a ticket's SLA targets (instead of waiting for them to pass)."""
    async with world.app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            sa.update(Ticket).where(Ticket.id == uuid.UUID(ticket["id"])).values(**dues)
        )


async def test_listing_overdue_and_priority_filters_find_matching_tickets(world):
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit)
    agent = await world.person("agent")
    past = datetime.now(UTC) - timedelta(days=2)
    late_response = await world.create(requester)
    await set_due(world, late_response, first_response_due_at=past)
    late_work = await world.create(requester)
    late_work = (await world.act(agent, late_work, "claim")).json()
    await set_due(world, late_work, resolution_due_at=past)
    # Waiting for the requester: the clock is paused, so a passed target is not overdue.
    paused = await world.create(requester)
    await world.act(agent, paused, "claim")
    paused = (await world.act(agent, paused, "pending", reason="Menunggu data")).json()
    await set_due(world, paused, resolution_due_at=past)
    on_time = await world.create(agent, unit_id=str(unit), priority="high")

    async def ids(**params) -> list[str]:
        response = await world.client.get(
            "/tickets", params={"unit_id": str(unit), "limit": 50, **params}, headers=agent.headers
        )
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert sorted(await ids(overdue="true")) == sorted([late_response["id"], late_work["id"]])
    assert sorted(await ids(overdue="false")) == sorted([paused["id"], on_time["id"]])
    listed = (await world.client.get(f"/tickets/{late_work['id']}", headers=agent.headers)).json()
    assert listed["overdue"] is True
    assert await ids(priority="high") == [on_time["id"]]
    normal = await ids(priority="normal")
    assert on_time["id"] not in normal and late_response["id"] in normal


async def test_policy_endpoint_publishes_the_matrix(world):
    agent = await world.person("agent", known=False)
    policy = (await world.client.get("/policy", headers=agent.headers)).json()
    assert {
        "from_status": "in_progress",
        "action": "resolve",
        "to_status": "resolved",
        "roles": ["agent"],
    } in policy["transitions"]
    assert policy["actions"]["confirm"] == ["requester"]


async def test_domain_metrics_count_committed_changes(world):
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    ticket = await world.create(requester)
    await world.act(agent, ticket, "claim")
    await world.act(requester, ticket, "claim")  # refused: not counted
    metrics = (await world.client.get("/metrics")).text
    assert 'tickets_actions_total{action="create"}' in metrics
    assert 'tickets_actions_total{action="claim"}' in metrics
