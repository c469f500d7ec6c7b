"""The audit log as administrators read it: names instead of ids, filters by actor, action
and period (bad ones a 422), the actor picker's list, and a label in the web client for
every action and field the service writes."""

from __future__ import annotations

import ast
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from identity.audit.service import ACTIONS

ROOT = Path(__file__).resolve().parents[3]
DICTIONARY = ROOT / "gateway/src/gateway/web/js/i18n/audit.js"
SOURCE = ROOT / "services/identity/src/identity"
PASSWORD = "Rahasia-123"
ACTION_SHAPE = re.compile(r"[a-z_]+\.[a-z_]+")


@pytest.fixture(scope="module")
async def api(start_identity):
    async with start_identity("identity_audit") as api:
        yield api


async def log(api, headers=None, **params: Any) -> list[dict[str, Any]]:
    response = await api.client.get(
        "/audit-log", params=params, headers=headers or await api.admin_headers()
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def second_admin(api, full_name: str) -> tuple[dict[str, Any], dict[str, str]]:
    admin = await api.create_user(full_name=full_name, role="admin", password=PASSWORD)
    token = await api.token_for(admin["username"], PASSWORD)
    return admin, api.bearer(token)


def dictionaries() -> dict[str, set[str]]:
    """The keys of the web client's audit dictionary, per language (one entry a line)."""
    text = DICTIONARY.read_text(encoding="utf-8")
    id_part, en_part = text.split("\n  en: {", 1)
    key = re.compile(r'^\s*"([^"]+)":', re.MULTILINE)
    return {"id": set(key.findall(id_part)), "en": set(key.findall(en_part))}


def written_actions(source: Path, writers: set[str]) -> set[str]:
    """Every action literal the code passes to an audit writer (``record(action=...)``),
    following a name to its assignment in the same function."""
    found: set[str] = set()
    for path in source.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assigned = {
                target.id: node.value
                for node in ast.walk(function)
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for call in ast.walk(function):
                if not isinstance(call, ast.Call):
                    continue
                name = getattr(call.func, "id", getattr(call.func, "attr", None))
                if name not in writers:
                    continue
                for keyword in call.keywords:
                    if keyword.arg != "action":
                        continue
                    value = keyword.value
                    if isinstance(value, ast.Name):
                        value = assigned.get(value.id, value)
                    found |= {
                        c.value
                        for c in ast.walk(value)
                        if isinstance(c, ast.Constant)
                        and isinstance(c.value, str)
                        and ACTION_SHAPE.fullmatch(c.value)
                    }
    return found


# -- names ------------------------------------------------------------------------------------


async def test_entries_name_the_actor_the_entity_and_the_ids_in_them(api):
    marker = uuid.uuid4().hex[:6]
    actor, headers = await second_admin(api, f"Rina Admin {marker}")
    unit = await api.create_unit(name=f"Dinas Pangan {marker}")
    other = await api.create_unit(name=f"Dinas Pasar {marker}")
    created = await api.client.post(
        "/users",
        json={
            "username": f"siti{marker}",
            "full_name": f"Siti {marker}",
            "role": "requester",
            "unit_id": unit["id"],
            "password": PASSWORD,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    changed = await api.client.patch(
        f"/users/{user['id']}", json={"role": "agent", "unit_id": other["id"]}, headers=headers
    )
    assert changed.status_code == 200, changed.text

    updated, made = await log(api, entity_id=user["id"])
    assert [updated["action"], made["action"]] == ["user.updated", "user.created"]
    for entry in (updated, made):
        assert entry["actor_id"] == actor["id"]
        assert entry["actor_name"] == f"Rina Admin {marker}"
        assert entry["entity_name"] == f"Siti {marker}"
    assert (updated["before"]["role"], updated["after"]["role"]) == ("requester", "agent")
    assert updated["names"] == {unit["id"]: unit["name"], other["id"]: other["name"]}
    assert made["names"] == {unit["id"]: unit["name"]}

    # Today's names: the actor and the unit renamed since.
    admin = await api.admin_headers()
    renamed = await api.client.patch(
        f"/users/{actor['id']}", json={"full_name": f"Rina Sari {marker}"}, headers=admin
    )
    assert renamed.status_code == 200, renamed.text
    moved = await api.client.patch(
        f"/units/{unit['id']}", json={"name": f"Dinas Ketahanan Pangan {marker}"}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    updated, made = await log(api, entity_id=user["id"])
    assert made["actor_name"] == f"Rina Sari {marker}"
    assert made["names"] == {unit["id"]: f"Dinas Ketahanan Pangan {marker}"}
    (unit_created,) = await log(api, entity_id=unit["id"], action="unit.created")
    assert unit_created["entity_name"] == f"Dinas Ketahanan Pangan {marker}"
    # An entry without a snapshot (a password reset) is named from today's data.
    await api.client.post(f"/users/{user['id']}/reset-password", headers=admin)
    (reset,) = await log(api, entity_id=user["id"], action="user.password_reset")
    assert reset["entity_name"] == f"Siti {marker}"
    assert reset["actor_name"] == "Administrator"


async def test_the_organisation_and_the_system_have_no_entity_name_to_resolve(api):
    admin = await api.admin_headers()
    response = await api.client.put(
        "/organisation", json={"name": "Dinas Kominfo", "parent_name": "Kota"}, headers=admin
    )
    assert response.status_code == 200, response.text
    (entry, *_) = await log(api, entity_type="organisation")
    assert entry["entity_name"] is None and entry["names"] == {}
    assert entry["actor_name"] == "Administrator"


# -- filters ----------------------------------------------------------------------------------


async def test_filters_by_actor_action_and_period_narrow_the_list(api):
    marker = uuid.uuid4().hex[:6]
    actor, headers = await second_admin(api, f"Filter Admin {marker}")
    for n in range(2):
        response = await api.client.post(
            "/units", json={"code": f"F{marker}{n}", "name": f"Unit {marker} {n}"}, headers=headers
        )
        assert response.status_code == 201, response.text
    unit_id = response.json()["id"]
    response = await api.client.patch(
        f"/units/{unit_id}", json={"contact_name": "Andi"}, headers=headers
    )
    assert response.status_code == 200

    mine = await log(api, actor_id=actor["id"])
    assert [e["action"] for e in mine] == ["unit.updated", "unit.created", "unit.created"]
    assert {e["actor_name"] for e in mine} == {f"Filter Admin {marker}"}
    created = await log(api, actor_id=actor["id"], action="unit.created")
    assert [e["entity_name"] for e in created] == [f"Unit {marker} 1", f"Unit {marker} 0"]
    everyone = await log(api, action="unit.created", limit=200)
    assert len(everyone) > len(created)

    now = datetime.now(UTC)
    around = {"since": (now - timedelta(minutes=5)).isoformat(), "until": now.isoformat()}
    assert len(await log(api, actor_id=actor["id"], **around)) == 3
    later = {"since": (now + timedelta(minutes=1)).isoformat()}
    assert await log(api, actor_id=actor["id"], **later) == []
    earlier = {"until": (now - timedelta(minutes=5)).isoformat()}
    assert await log(api, actor_id=actor["id"], **earlier) == []
    # A period of office-local days (Jakarta, UTC+7): today there holds every entry.
    jakarta = now.astimezone(UTC) + timedelta(hours=7)
    day_start = datetime(jakarta.year, jakarta.month, jakarta.day, tzinfo=UTC) - timedelta(hours=7)
    day = {"since": day_start.isoformat(), "until": (day_start + timedelta(days=1)).isoformat()}
    assert len(await log(api, actor_id=actor["id"], **day)) == 3


async def test_filters_page_with_cursors(api):
    marker = uuid.uuid4().hex[:6]
    actor, headers = await second_admin(api, f"Pager {marker}")
    for n in range(5):
        await api.client.post(
            "/units", json={"code": f"P{marker}{n}", "name": f"Unit {n}"}, headers=headers
        )
    seen: list[int] = []
    cursor = None
    while True:
        params = {"actor_id": actor["id"], "action": "unit.created", "limit": 2}
        response = await api.client.get(
            "/audit-log",
            params={**params, **({"cursor": cursor} if cursor else {})},
            headers=await api.admin_headers(),
        )
        page = response.json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        (
            {"since": "2025-03-02T00:00:00+07:00", "until": "2025-03-01T00:00:00+07:00"},
            "reversed_period",
            "until",
        ),
        ({"actor_id": "not-a-uuid"}, "validation_error", "actor_id"),
        ({"since": "2025-03-01T00:00:00"}, "validation_error", "since"),
        ({"until": "yesterday"}, "validation_error", "until"),
        ({"action": "user.deleted"}, "unknown_action", "action"),
        ({"entity_type": "ticket"}, "unknown_entity_type", "entity_type"),
    ],
)
async def test_bad_filters_are_a_422_naming_the_parameter(api, params, code, field):
    response = await api.client.get("/audit-log", params=params, headers=await api.admin_headers())
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert [f["field"] for f in error["fields"]] == [field]


async def test_the_actor_picker_lists_it_staff_by_name_for_admins_only(api, make_token):
    marker = uuid.uuid4().hex[:6]
    unit = await api.create_unit()
    agent = await api.create_user(full_name=f"Agus {marker}", role="agent")
    requester = await api.create_user(
        full_name=f"Bambang {marker}", role="requester", unit_id=unit["id"]
    )
    response = await api.client.get("/audit-log/actors", headers=await api.admin_headers())
    assert response.status_code == 200, response.text
    actors = response.json()
    ids = [a["id"] for a in actors]
    assert agent["id"] in ids and requester["id"] not in ids
    assert {a["role"] for a in actors} <= {"admin", "agent"}
    names = [a["name"].lower() for a in actors]
    assert names == sorted(names)
    assert next(a for a in actors if a["id"] == agent["id"])["name"] == f"Agus {marker}"
    for role in ("agent", "leader", "requester"):
        denied = await api.client.get("/audit-log/actors", headers=api.bearer(make_token(role)))
        assert denied.status_code == 403


# -- labels in the web client -------------------------------------------------------------


def test_the_code_writes_only_the_listed_actions():
    written = written_actions(SOURCE, writers={"record", "_change"})
    assert written == set(ACTIONS)


async def test_the_action_filter_offers_every_action_to_admins_only(api, make_token):
    response = await api.client.get("/audit-log/actions", headers=await api.admin_headers())
    assert response.status_code == 200, response.text
    assert response.json() == list(ACTIONS)
    denied = await api.client.get("/audit-log/actions", headers=api.bearer(make_token("agent")))
    assert denied.status_code == 403


async def test_every_action_and_field_written_has_a_label_in_both_languages(api):
    """Exercise every action, then check the dictionaries against what the log holds."""
    admin = await api.admin_headers()
    marker = uuid.uuid4().hex[:6]
    unit = await api.create_unit(contact_name="Ani", contact_email=f"{marker}@x.go.id")
    await api.client.patch(f"/units/{unit['id']}", json={"name": "Dinas Lain"}, headers=admin)
    await api.client.patch(f"/units/{unit['id']}", json={"is_active": False}, headers=admin)
    user = await api.create_user(password=PASSWORD)
    await api.client.patch(f"/users/{user['id']}", json={"role": "admin"}, headers=admin)
    await api.client.post(f"/users/{user['id']}/disable", headers=admin)
    await api.client.post(f"/users/{user['id']}/enable", headers=admin)
    await api.client.post(f"/users/{user['id']}/reset-password", headers=admin)
    person = await api.create_user(password=PASSWORD)
    token = await api.token_for(person["username"], PASSWORD)
    changed = await api.client.post(
        "/auth/me/password",
        json={"current_password": PASSWORD, "new_password": "Baru-Rahasia-456"},
        headers=api.bearer(token),
    )
    assert changed.status_code == 200, changed.text
    # Many failed sign-ins on one account, each from another address: an attack is noted.
    for _ in range(api.settings.login_alert_failures):
        await api.login(person["username"], "not-the-password", ip=api.unique_ip())
    await api.client.put("/organisation", json={"name": f"Dinas {marker}"}, headers=admin)
    png = (ROOT / "gateway/src/gateway/web/favicon.svg").read_bytes()
    logo = await api.client.put(
        "/organisation/logo", content=png, headers={**admin, "Content-Type": "image/svg+xml"}
    )
    assert logo.status_code == 200, logo.text
    assert (await api.client.delete("/organisation/logo", headers=admin)).status_code == 200

    entries = await log(api, limit=200)
    actions = {e["action"] for e in entries}
    fields = {key for e in entries for part in (e["before"], e["after"]) for key in part or {}}
    assert actions == set(ACTIONS)
    for language, keys in dictionaries().items():
        missing = {a for a in actions if f"audit.action.{a}" not in keys}
        missing |= {f for f in fields if f"audit.field.{f}" not in keys}
        missing |= {e for e in ("user", "unit", "organisation") if f"audit.entity.{e}" not in keys}
        assert not missing, (language, sorted(missing))
