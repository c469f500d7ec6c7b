"""Master data administration: categories, priorities, SLA, calendar, rules, audit log."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


async def test_only_admins_change_master_data_but_everyone_reads_it(world):
    requester = await world.person("requester", unit_id=await world.unit())
    for path in ("/categories", "/priorities", "/sla-policies", "/office-hours", "/holidays"):
        assert (await world.client.get(path, headers=requester.headers)).status_code == 200, path
    assert (await world.client.get("/priority-rules", headers=requester.headers)).status_code == 403
    for role in ("requester", "agent", "leader"):
        person = await world.person(role, unit_id=requester.unit_id)
        for method, path, body in [
            ("POST", "/categories", {"name": "Baru"}),
            ("POST", "/priorities", {"code": "x", "name": "X", "rank": 1}),
            ("PUT", "/sla-policies/normal", {"first_response_minutes": 1, "resolution_minutes": 2}),
            ("PUT", "/office-hours", {"days": [{"weekday": 0, "start": "08:00", "end": "09:00"}]}),
            ("POST", "/holidays", {"date": "2026-03-20", "name": "Nyepi"}),
            ("POST", "/priority-rules", {"keyword": "x", "priority": "low"}),
        ]:
            response = await world.client.request(method, path, json=body, headers=person.headers)
            assert response.status_code == 403, (role, path)
    assert (await world.client.get("/audit-log", headers=requester.headers)).status_code == 403


async def test_seeded_defaults(world):
    admin = await world.person("admin")
    priorities = (await world.client.get("/priorities", headers=admin.headers)).json()
    assert [p["code"] for p in priorities] == ["low", "normal", "high", "critical"]
    assert next(p for p in priorities if p["is_default"])["code"] == "normal"
    assert all(p["first_response_minutes"] and p["resolution_minutes"] for p in priorities)
    names = {
        c["name"] for c in (await world.client.get("/categories", headers=admin.headers)).json()
    }
    assert {
        "Jaringan & Internet",
        "Perangkat Keras",
        "Aplikasi",
        "Email & Akun",
        "Website",
    } <= names
    hours = (await world.client.get("/office-hours", headers=admin.headers)).json()
    assert hours["timezone"] == "Asia/Jakarta"
    assert {d["weekday"] for d in hours["days"]} == {0, 1, 2, 3, 4}
    holidays = (await world.client.get("/holidays?year=2026", headers=admin.headers)).json()
    assert {"date": "2026-08-17", "name": "Hari Kemerdekaan Republik Indonesia"}.items() <= {
        k: v for h in holidays if h["date"] == "2026-08-17" for k, v in h.items()
    }.items()


async def test_categories_lifecycle_and_use_in_tickets(world):
    admin = await world.person("admin")
    requester = await world.person("requester", unit_id=await world.unit())
    name = f"Kamera CCTV {uuid.uuid4().hex[:4]}"
    response = await world.client.post(
        "/categories",
        json={"name": name, "description": "Kamera pengawas", "default_priority": "high"},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    category = response.json()
    duplicate = await world.client.post(
        "/categories", json={"name": name.upper()}, headers=admin.headers
    )
    assert duplicate.status_code == 409
    bad = await world.client.post(
        "/categories",
        json={"name": "Tanpa prioritas", "default_priority": "nope"},
        headers=admin.headers,
    )
    assert (
        bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "default_priority"
    )

    ticket = await world.create(requester, category_id=category["id"])
    assert ticket["priority"] == "high" and ticket["category_name"] == name

    renamed = await world.client.patch(
        f"/categories/{category['id']}", json={"name": f"{name} Kantor"}, headers=admin.headers
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == f"{name} Kantor"
    deleted = await world.client.delete(f"/categories/{category['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    listed = (await world.client.get("/categories", headers=admin.headers)).json()
    assert category["id"] not in {c["id"] for c in listed}
    response = await world.client.post(
        "/tickets",
        json={"title": "Kamera mati", "description": "x", "category_id": category["id"]},
        headers=requester.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "category_id"
    # Existing tickets keep their category.
    kept = await world.client.get(f"/tickets/{ticket['id']}", headers=requester.headers)
    assert kept.json()["category_name"] == f"{name} Kantor"

    log = (await world.client.get("/audit-log", headers=admin.headers)).json()["items"]
    actions = [e["action"] for e in log if e["entity_id"] == category["id"]]
    assert actions == ["category.updated", "category.updated", "category.created"]
    assert log[0]["actor_id"] == str(admin.user_id)


async def test_priorities_and_sla_policies(world):
    admin = await world.person("admin")
    code = f"p{uuid.uuid4().hex[:6]}"
    created = await world.client.post(
        "/priorities", json={"code": code, "name": "Darurat", "rank": 50}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    assert (
        await world.client.post(
            "/priorities", json={"code": code, "name": "Lagi", "rank": 5}, headers=admin.headers
        )
    ).status_code == 409
    policy = await world.client.put(
        f"/sla-policies/{code}",
        json={"first_response_minutes": 15, "resolution_minutes": 120},
        headers=admin.headers,
    )
    assert policy.status_code == 200, policy.text
    invalid = await world.client.put(
        f"/sla-policies/{code}",
        json={"first_response_minutes": 120, "resolution_minutes": 15},
        headers=admin.headers,
    )
    assert invalid.status_code == 422
    assert (
        await world.client.put(
            "/sla-policies/unknown",
            json={"first_response_minutes": 1, "resolution_minutes": 2},
            headers=admin.headers,
        )
    ).status_code == 422

    agent = await world.person("agent")
    ticket = await world.create(agent, priority=code)
    assert ticket["priority"] == code and ticket["priority_name"] == "Darurat"
    created_at = datetime.fromisoformat(ticket["created_at"])
    first_due = datetime.fromisoformat(ticket["first_response_due_at"])
    assert first_due > created_at

    assert (
        await world.client.patch(
            "/priorities/normal", json={"is_active": False}, headers=admin.headers
        )
    ).status_code == 409
    made_default = await world.client.patch(
        f"/priorities/{code}", json={"is_default": True}, headers=admin.headers
    )
    assert made_default.status_code == 200 and made_default.json()["is_default"]
    priorities = (await world.client.get("/priorities", headers=admin.headers)).json()
    assert [p["code"] for p in priorities if p["is_default"]] == [code]
    restored = await world.client.patch(
        "/priorities/normal", json={"is_default": True}, headers=admin.headers
    )
    assert restored.status_code == 200
    deactivated = await world.client.patch(
        f"/priorities/{code}", json={"is_active": False}, headers=admin.headers
    )
    assert deactivated.status_code == 200
    response = await world.client.post(
        "/tickets",
        json={
            "title": "Pakai prioritas nonaktif",
            "description": "x",
            "category_id": await world.category_id(),
            "unit_id": str(await world.unit()),
            "priority": code,
        },
        headers=agent.headers,
    )
    assert response.status_code == 422


async def test_office_hours_and_holidays_drive_due_dates(world):
    admin = await world.person("admin")
    hours = (await world.client.get("/office-hours", headers=admin.headers)).json()
    overlapping = await world.client.put(
        "/office-hours",
        json={
            "days": [
                {"weekday": 0, "start": "08:00", "end": "12:00"},
                {"weekday": 0, "start": "11:00", "end": "13:00"},
            ]
        },
        headers=admin.headers,
    )
    assert overlapping.status_code == 422
    assert overlapping.json()["error"]["fields"][0]["field"] == "days"
    backwards = await world.client.put(
        "/office-hours",
        json={"days": [{"weekday": 9, "start": "08:00", "end": "12:00"}]},
        headers=admin.headers,
    )
    assert backwards.status_code == 422

    # Round the clock, every day: the due date is exactly the target after creation.
    always = [{"weekday": d, "start": "00:00", "end": "23:59:59.999999"} for d in range(7)]
    response = await world.client.put("/office-hours", json={"days": always}, headers=admin.headers)
    assert response.status_code == 200, response.text
    holidays = (await world.client.get("/holidays", headers=admin.headers)).json()
    today = datetime.now(JAKARTA).date()
    for holiday in holidays:
        if abs((date.fromisoformat(holiday["date"]) - today).days) <= 2:
            await world.client.delete(f"/holidays/{holiday['id']}", headers=admin.headers)
    try:
        agent = await world.person("agent")
        ticket = await world.create(agent, priority="critical")
        created = datetime.fromisoformat(ticket["created_at"])
        due = datetime.fromisoformat(ticket["first_response_due_at"])
        assert abs((due - created) - timedelta(minutes=30)) < timedelta(seconds=1)

        added = await world.client.post(
            "/holidays",
            json={"date": str(today), "name": "Libur uji"},
            headers=admin.headers,
        )
        assert added.status_code == 201
        assert (
            await world.client.post(
                "/holidays",
                json={"date": str(today), "name": "Lagi"},
                headers=admin.headers,
            )
        ).status_code == 409
        on_holiday = await world.create(agent, priority="critical")
        due = datetime.fromisoformat(on_holiday["first_response_due_at"])
        assert due - datetime.fromisoformat(on_holiday["created_at"]) > timedelta(minutes=30)
        removed = await world.client.delete(
            f"/holidays/{added.json()['id']}", headers=admin.headers
        )
        assert removed.status_code == 204
    finally:
        restore = await world.client.put(
            "/office-hours", json={"days": hours["days"]}, headers=admin.headers
        )
        assert restore.status_code == 200


async def test_priority_rules(world):
    admin = await world.person("admin")
    unit = await world.unit()
    requester = await world.person("requester", unit_id=unit)
    empty = await world.client.post(
        "/priority-rules", json={"priority": "high"}, headers=admin.headers
    )
    assert empty.status_code == 422
    by_unit = await world.client.post(
        "/priority-rules", json={"unit_id": str(unit), "priority": "high"}, headers=admin.headers
    )
    assert by_unit.status_code == 201, by_unit.text
    keyword = await world.client.post(
        "/priority-rules",
        json={"keyword": "Data hilang", "unit_id": str(unit), "priority": "critical"},
        headers=admin.headers,
    )
    assert keyword.status_code == 201
    plain = await world.create(requester)
    assert (plain["priority"], plain["priority_source"]) == ("high", "rule")
    urgent = await world.create(requester, description="Semua DATA HILANG dari server arsip")
    assert urgent["priority"] == "critical"
    partial = await world.create(requester, description="database hilangnya sebagian")
    assert partial["priority"] == "high"

    disabled = await world.client.patch(
        f"/priority-rules/{by_unit.json()['id']}", json={"is_active": False}, headers=admin.headers
    )
    assert disabled.status_code == 200
    assert (await world.create(requester))["priority"] == "normal"
    deleted = await world.client.delete(
        f"/priority-rules/{keyword.json()['id']}", headers=admin.headers
    )
    assert deleted.status_code == 204
    rules = (await world.client.get("/priority-rules", headers=admin.headers)).json()
    assert keyword.json()["id"] not in {r["id"] for r in rules}


async def test_directory_pickers(world):
    unit = await world.unit("Badan Keuangan")
    agent = await world.person("agent", name="Eko Prasetyo")
    units = (await world.client.get("/units", headers=agent.headers)).json()
    assert any(u["id"] == str(unit) and u["name"] == "Badan Keuangan" for u in units)
    agents = (await world.client.get("/agents", headers=agent.headers)).json()
    assert any(a["id"] == str(agent.user_id) for a in agents)
    requester = await world.person("requester", unit_id=unit)
    assert (await world.client.get("/agents", headers=requester.headers)).status_code == 403


async def test_the_audit_log_pages_with_cursors(world):
    admin = await world.person("admin")
    for i in range(5):
        response = await world.client.post(
            "/categories", json={"name": f"Audit {uuid.uuid4().hex[:6]} {i}"}, headers=admin.headers
        )
        assert response.status_code == 201, response.text
    newest = (await world.client.get("/audit-log?limit=500", headers=admin.headers)).json()
    assert newest["next_cursor"] is None or len(newest["items"]) == 500
    seen: list[int] = []
    cursor = None
    for _ in range(200):
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await world.client.get("/audit-log", params=params, headers=admin.headers)).json()
        seen += [entry["id"] for entry in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None or len(seen) >= 12:
            break
    # Newest first, each entry once, and the same entries as one big page.
    assert seen == sorted(set(seen), reverse=True)
    assert seen == [entry["id"] for entry in newest["items"][: len(seen)]]
    for bad in ("abc", "5", "eyJ4IjogMX0"):
        response = await world.client.get(
            "/audit-log", params={"cursor": bad}, headers=admin.headers
        )
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "invalid_cursor"
        assert response.json()["error"]["fields"][0]["field"] == "cursor"
