"""The master-data audit log as administrators read it: names instead of ids and codes,
filters by actor, action and period (bad ones a 422), and a label in the web client for
every action and field this service writes."""

from __future__ import annotations

import ast
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpdesk_common.contracts.identity import UserUpdated
from helpdesk_common.directory import upsert_user
from tickets.masterdata.auditlog import ACTIONS

ROOT = Path(__file__).resolve().parents[3]
DICTIONARY = ROOT / "gateway/src/gateway/web/js/i18n/audit.js"
SOURCE = ROOT / "services/tickets/src/tickets"
ACTION_SHAPE = re.compile(r"[a-z_]+\.[a-z_]+")
# Whatever writes to the master-data audit log (tickets.masterdata.service).
WRITERS = {"audit", "_update", "_created"}


async def log(world, admin, **params: Any) -> list[dict[str, Any]]:
    response = await world.client.get("/audit-log", params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def some_day() -> str:
    """A far-future day nobody else uses as a holiday."""
    return (date(2090, 1, 1) + timedelta(days=uuid.uuid4().int % 3000)).isoformat()


def dictionaries() -> dict[str, set[str]]:
    text = DICTIONARY.read_text(encoding="utf-8")
    id_part, en_part = text.split("\n  en: {", 1)
    key = re.compile(r'^\s*"([^"]+)":', re.MULTILINE)
    return {"id": set(key.findall(id_part)), "en": set(key.findall(en_part))}


def written_actions() -> set[str]:
    """Every action literal passed to a writer of the log, anywhere in the service."""
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(call, ast.Call):
                continue
            if getattr(call.func, "id", getattr(call.func, "attr", None)) not in WRITERS:
                continue
            for keyword in call.keywords:
                if keyword.arg == "action":
                    found |= {
                        c.value
                        for c in ast.walk(keyword.value)
                        if isinstance(c, ast.Constant)
                        and isinstance(c.value, str)
                        and ACTION_SHAPE.fullmatch(c.value)
                    }
    return found


# -- names ------------------------------------------------------------------------------------


async def test_entries_name_the_actor_the_entity_and_the_ids_and_codes_in_them(world):
    marker = uuid.uuid4().hex[:6]
    admin = await world.person("admin", name=f"Rina Admin {marker}")
    unit_id = await world.unit(f"Dinas Pangan {marker}")
    category = await world.client.post(
        "/categories",
        json={"name": f"CCTV {marker}", "default_priority": "high"},
        headers=admin.headers,
    )
    assert category.status_code == 201, category.text
    category_id = category.json()["id"]
    rule = await world.client.post(
        "/priority-rules",
        json={
            "keyword": f"kamera{marker}",
            "unit_id": str(unit_id),
            "category_id": category_id,
            "priority": "critical",
        },
        headers=admin.headers,
    )
    assert rule.status_code == 201, rule.text
    rule_id = rule.json()["id"]

    created_category, *_ = await log(
        world, admin, actor_id=str(admin.user_id), action="category.created"
    )
    assert created_category["entity_type"] == "category"
    assert created_category["entity_name"] == f"CCTV {marker}"
    assert created_category["actor_name"] == f"Rina Admin {marker}"
    assert created_category["names"] == {"high": "Tinggi"}

    created_rule, *_ = await log(
        world, admin, actor_id=str(admin.user_id), action="priority_rule.created"
    )
    assert created_rule["entity_id"] == rule_id
    assert created_rule["entity_name"] == (
        f"“kamera{marker}” · Dinas Pangan {marker} · CCTV {marker} → Kritis"
    )
    assert created_rule["names"] == {
        str(unit_id): f"Dinas Pangan {marker}",
        category_id: f"CCTV {marker}",
        "critical": "Kritis",
    }

    # A deleted rule and holiday keep the names recorded in their entries.
    assert (
        await world.client.delete(f"/priority-rules/{rule_id}", headers=admin.headers)
    ).status_code == 204
    holiday = await world.client.post(
        "/holidays", json={"date": some_day(), "name": f"Libur {marker}"}, headers=admin.headers
    )
    assert holiday.status_code == 201, holiday.text
    assert (
        await world.client.delete(f"/holidays/{holiday.json()['id']}", headers=admin.headers)
    ).status_code == 204
    deleted_holiday, added_holiday, deleted_rule, *_ = await log(
        world, admin, actor_id=str(admin.user_id)
    )
    assert deleted_holiday["action"] == "holiday.deleted"
    assert deleted_holiday["entity_name"] == f"Libur {marker}"
    assert added_holiday["entity_name"] == f"Libur {marker}"
    assert deleted_rule["action"] == "priority_rule.deleted"
    assert deleted_rule["entity_name"] == (
        f"“kamera{marker}” · Dinas Pangan {marker} · CCTV {marker} → Kritis"
    )

    # Today's names: the category and the actor renamed since (the directory replica).
    await world.client.patch(
        f"/categories/{category_id}", json={"name": f"Kamera {marker}"}, headers=admin.headers
    )
    async with world.app.state.runtime.sessionmaker() as session, session.begin():
        await upsert_user(
            session,
            snapshot=UserUpdated(
                user_id=admin.user_id,
                username=f"rina{marker}",
                full_name=f"Rina Sari {marker}",
                email=None,
                role="admin",
                unit_id=None,
                is_active=True,
                revision=2,
                updated_at=datetime.now(UTC),
            ),
        )
    created_category = (
        await log(world, admin, actor_id=str(admin.user_id), action="category.created")
    )[0]
    assert created_category["entity_name"] == f"Kamera {marker}"
    assert created_category["actor_name"] == f"Rina Sari {marker}"


async def test_an_actor_missing_from_the_directory_keeps_the_recorded_name(world):
    marker = uuid.uuid4().hex[:6]
    stranger = await world.person("admin", name=f"Tamu {marker}", known=False)
    response = await world.client.put(
        "/sla-policies/low",
        json={"first_response_minutes": 240, "resolution_minutes": 2400 + len(marker)},
        headers=stranger.headers,
    )
    assert response.status_code == 200, response.text
    (entry,) = await log(world, stranger, actor_id=str(stranger.user_id))
    assert entry["actor_name"] == f"Tamu {marker}"
    assert (entry["entity_type"], entry["entity_name"]) == ("sla_policy", "Rendah")


async def test_the_calendar_and_the_export_policy_need_no_entity_name(world):
    admin = await world.person("admin")
    hours = (await world.client.get("/office-hours", headers=admin.headers)).json()
    response = await world.client.put(
        "/office-hours", json={"days": hours["days"]}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    (entry,) = await log(world, admin, actor_id=str(admin.user_id))
    assert entry["action"] == "office_hours.replaced"
    assert entry["entity_type"] == "office_hours" and entry["entity_name"] is None


# -- filters ----------------------------------------------------------------------------------


async def test_filters_by_actor_action_and_period_narrow_the_list(world):
    marker = uuid.uuid4().hex[:6]
    first = await world.person("admin", name=f"Admin Satu {marker}")
    second = await world.person("admin", name=f"Admin Dua {marker}")
    for who, n in ((first, 0), (first, 1), (second, 2)):
        response = await world.client.post(
            "/categories", json={"name": f"Filter {marker} {n}"}, headers=who.headers
        )
        assert response.status_code == 201, response.text
    await world.client.patch(
        f"/categories/{response.json()['id']}", json={"description": "x"}, headers=second.headers
    )

    mine = await log(world, first, actor_id=str(first.user_id))
    assert [e["entity_name"] for e in mine] == [f"Filter {marker} 1", f"Filter {marker} 0"]
    theirs = await log(world, first, actor_id=str(second.user_id), action="category.updated")
    assert [(e["action"], e["entity_name"]) for e in theirs] == [
        ("category.updated", f"Filter {marker} 2")
    ]
    everyone = await log(world, first, action="category.created", limit=500)
    assert {f"Filter {marker} {n}" for n in range(3)} <= {e["entity_name"] for e in everyone}
    assert all(e["action"] == "category.created" for e in everyone)

    now = datetime.now(UTC)
    around = {"since": (now - timedelta(minutes=5)).isoformat(), "until": now.isoformat()}
    assert len(await log(world, first, actor_id=str(first.user_id), **around)) == 2
    later = {"since": (now + timedelta(minutes=1)).isoformat()}
    assert await log(world, first, actor_id=str(first.user_id), **later) == []
    earlier = {"until": (now - timedelta(minutes=5)).isoformat()}
    assert await log(world, first, actor_id=str(first.user_id), **earlier) == []

    # Paging keeps the filters.
    page = (
        await world.client.get(
            "/audit-log", params={"actor_id": str(first.user_id), "limit": 1}, headers=first.headers
        )
    ).json()
    rest = await log(world, first, actor_id=str(first.user_id), cursor=page["next_cursor"])
    assert [e["id"] for e in page["items"] + rest] == [e["id"] for e in mine]


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        (
            {"since": "2025-03-02T00:00:00+07:00", "until": "2025-03-01T00:00:00+07:00"},
            "reversed_period",
            "until",
        ),
        ({"actor_id": "nobody"}, "validation_error", "actor_id"),
        ({"since": "2025-03-01T00:00:00"}, "validation_error", "since"),
        ({"until": "kemarin"}, "validation_error", "until"),
        ({"action": "ticket.created"}, "unknown_action", "action"),
    ],
)
async def test_bad_filters_are_a_422_naming_the_parameter(world, params, code, field):
    admin = await world.person("admin")
    response = await world.client.get("/audit-log", params=params, headers=admin.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert [f["field"] for f in error["fields"]] == [field]


# -- labels in the web client -------------------------------------------------------------


def test_the_code_writes_only_the_listed_actions():
    assert written_actions() == set(ACTIONS)


async def test_the_action_filter_offers_every_action_to_admins_only(world):
    admin, agent = await world.person("admin"), await world.person("agent")
    response = await world.client.get("/audit-log/actions", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json() == list(ACTIONS)
    denied = await world.client.get("/audit-log/actions", headers=agent.headers)
    assert denied.status_code == 403


async def test_every_action_and_field_written_has_a_label_in_both_languages(world):
    """Exercise every action, then check the dictionaries against what the log holds."""
    marker = uuid.uuid4().hex[:6]
    admin = await world.person("admin")
    h = admin.headers
    code = f"p{marker}"
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/priorities", {"code": code, "name": f"P {marker}", "rank": 7}),
        ("PATCH", f"/priorities/{code}", {"name": f"Prioritas {marker}", "is_active": False}),
        ("PATCH", f"/priorities/{code}", {"is_active": True}),
        ("PUT", f"/sla-policies/{code}", {"first_response_minutes": 30, "resolution_minutes": 60}),
        ("PUT", f"/sla-policies/{code}", {"first_response_minutes": 45, "resolution_minutes": 90}),
    ]
    for method, path, body in calls:
        response = await world.client.request(method, path, json=body, headers=h)
        assert response.status_code in (200, 201), (path, response.text)
    category = await world.client.post(
        "/categories", json={"name": f"Kategori {marker}", "description": "d"}, headers=h
    )
    category_id = category.json()["id"]
    await world.client.patch(
        f"/categories/{category_id}", json={"default_priority": code}, headers=h
    )
    hours = (await world.client.get("/office-hours", headers=h)).json()
    await world.client.put("/office-hours", json={"days": hours["days"]}, headers=h)
    holiday = await world.client.post(
        "/holidays", json={"date": some_day(), "name": "Libur"}, headers=h
    )
    await world.client.delete(f"/holidays/{holiday.json()['id']}", headers=h)
    rule = await world.client.post(
        "/priority-rules",
        json={"keyword": f"k{marker}", "unit_id": str(await world.unit()), "priority": code},
        headers=h,
    )
    rule_id = rule.json()["id"]
    await world.client.patch(
        f"/priority-rules/{rule_id}", json={"category_id": category_id}, headers=h
    )
    await world.client.delete(f"/priority-rules/{rule_id}", headers=h)
    policy = await world.client.put("/exports/policy", json={"contact_roles": ["admin"]}, headers=h)
    assert policy.status_code == 200, policy.text

    entries = await log(world, admin, actor_id=str(admin.user_id), limit=500)
    actions = {e["action"] for e in entries}
    fields = {key for e in entries for part in (e["before"], e["after"]) for key in part or {}}
    assert actions == set(ACTIONS)
    types = {e["entity_type"] for e in entries}
    for language, keys in dictionaries().items():
        missing = {a for a in actions if f"audit.action.{a}" not in keys}
        missing |= {f for f in fields if f"audit.field.{f}" not in keys}
        missing |= {t for t in types if f"audit.entity.{t}" not in keys}
        assert not missing, (language, sorted(missing))
