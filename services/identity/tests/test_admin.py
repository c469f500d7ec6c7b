"""Administration of users and units: validation, events on the bus, audit log, access."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import pytest

from helpdesk_testing import eventually

PASSWORD = "Rahasia-123"


@pytest.fixture(scope="module")
async def api(start_identity):
    async with start_identity("identity_admin") as api:
        yield api


def events_for(seen, entity_id: str, key: str) -> list:
    return [e for e in seen if e.payload.get(key) == entity_id]


async def settle(seen, entity_id: str, key: str, count: int) -> list:
    """Wait for ``count`` events of the entity, then make sure no extra ones follow."""
    await eventually(lambda: len(events_for(seen, entity_id, key)) >= count)
    await asyncio.sleep(0.3)
    return events_for(seen, entity_id, key)


# -- units ------------------------------------------------------------------------------------


async def test_unit_lifecycle_publishes_each_change_once(api, events):
    admin = await api.admin_headers()
    created = await api.client.post(
        "/units",
        json={
            "code": "DISDIK",
            "name": "Dinas Pendidikan",
            "contact_name": "Siti",
            "contact_email": "siti@disdik.go.id",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    unit = created.json()
    assert unit["revision"] == 1 and unit["is_active"] is True

    renamed = await api.client.patch(
        f"/units/{unit['id']}", json={"name": "Dinas Pendidikan Kota"}, headers=admin
    )
    assert renamed.json()["revision"] == 2
    deactivated = await api.client.patch(
        f"/units/{unit['id']}", json={"is_active": False}, headers=admin
    )
    assert deactivated.json()["is_active"] is False
    # A PATCH that changes nothing publishes nothing.
    same = await api.client.patch(f"/units/{unit['id']}", json={"is_active": False}, headers=admin)
    assert same.json()["revision"] == 3

    seen = await settle(events, unit["id"], "unit_id", 3)
    assert [(e.event_type, e.payload["revision"]) for e in seen] == [
        ("unit.created", 1),
        ("unit.updated", 2),
        ("unit.updated", 3),
    ]
    assert all(e.producer == "identity" for e in seen)
    assert seen[0].payload == {
        "unit_id": unit["id"],
        "code": "DISDIK",
        "name": "Dinas Pendidikan",
        "contact_name": "Siti",
        "contact_email": "siti@disdik.go.id",
        "is_active": True,
        "revision": 1,
        "updated_at": seen[0].payload["updated_at"],
    }
    assert seen[1].payload["name"] == "Dinas Pendidikan Kota"
    assert seen[2].payload["is_active"] is False


async def test_duplicate_unit_code_is_a_conflict_whatever_the_case(api):
    unit = await api.create_unit()
    response = await api.client.post(
        "/units",
        json={"code": unit["code"].lower(), "name": "Copy"},
        headers=await api.admin_headers(),
    )
    assert response.status_code == 409
    assert response.json()["error"]["fields"] == [
        {"field": "code", "message": "A unit with this code already exists"}
    ]


async def test_unit_validation_names_the_field(api):
    admin = await api.admin_headers()
    missing = await api.client.post("/units", json={"code": "X1"}, headers=admin)
    assert missing.status_code == 422
    assert [f["field"] for f in missing.json()["error"]["fields"]] == ["name"]
    bad_email = await api.client.post(
        "/units", json={"code": "X2", "name": "X", "contact_email": "not-an-email"}, headers=admin
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["error"]["fields"][0]["field"] == "contact_email"
    null_name = await api.client.patch(
        f"/units/{(await api.create_unit())['id']}", json={"name": None}, headers=admin
    )
    assert null_name.status_code == 422
    assert null_name.json()["error"]["fields"][0]["field"] == "name"
    unknown = await api.client.patch(f"/units/{uuid.uuid4()}", json={"name": "X"}, headers=admin)
    assert unknown.status_code == 404


async def test_requester_sees_unit_names_but_only_own_contacts(api):
    own = await api.create_unit(contact_name="Andi", contact_email="andi@unit.go.id")
    other = await api.create_unit(contact_name="Rina", contact_email="rina@unit.go.id")
    requester = await api.create_user(role="requester", unit_id=own["id"])
    token = api.bearer(await api.token_for(requester["username"], PASSWORD))

    listing = await api.client.get("/units", params={"limit": 200}, headers=token)
    assert listing.status_code == 200
    units = {u["id"]: u for u in listing.json()["items"]}
    assert units[own["id"]]["contact_name"] == "Andi"
    assert units[other["id"]]["name"] == other["name"]
    assert units[other["id"]]["contact_name"] is None
    assert units[other["id"]]["contact_email"] is None

    assert (await api.client.get(f"/units/{own['id']}", headers=token)).status_code == 200
    assert (await api.client.get(f"/units/{other['id']}", headers=token)).status_code == 403
    changed = await api.client.patch(f"/units/{own['id']}", json={"name": "Mine"}, headers=token)
    assert changed.status_code == 403


# -- users ------------------------------------------------------------------------------------


async def test_user_lifecycle_publishes_each_change_once(api, events):
    unit = await api.create_unit()
    admin = await api.admin_headers()
    created = await api.client.post(
        "/users",
        json={
            "username": "Rina.Putri",
            "full_name": "Rina Putri",
            "email": "rina.putri@bukittinggikota.go.id",
            "role": "requester",
            "unit_id": unit["id"],
            "password": PASSWORD,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert "password" not in user and "password_hash" not in user
    assert user["temporary_password"] is None

    updated = await api.client.patch(
        f"/users/{user['id']}", json={"role": "agent", "full_name": "Rina P."}, headers=admin
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["revision"] == 2
    disabled = await api.client.post(f"/users/{user['id']}/disable", headers=admin)
    assert disabled.json()["is_active"] is False
    enabled = await api.client.post(f"/users/{user['id']}/enable", headers=admin)
    assert enabled.json()["is_active"] is True

    seen = await settle(events, user["id"], "user_id", 4)
    assert [(e.event_type, e.payload["revision"]) for e in seen] == [
        ("user.created", 1),
        ("user.updated", 2),
        ("user.deactivated", 3),
        ("user.updated", 4),
    ]
    first = seen[0].payload
    assert first["username"] == "Rina.Putri"
    assert first["email"] == "rina.putri@bukittinggikota.go.id"
    assert (first["role"], first["unit_id"], first["is_active"]) == ("requester", unit["id"], True)
    assert first["language"] == "id"
    assert (seen[1].payload["role"], seen[1].payload["full_name"]) == ("agent", "Rina P.")
    assert seen[2].payload["is_active"] is False
    assert seen[3].payload["is_active"] is True


async def test_user_created_without_password_gets_a_temporary_one(api):
    admin = await api.admin_headers()
    response = await api.client.post(
        "/users",
        json={"username": f"temp{uuid.uuid4().hex[:6]}", "full_name": "Temp", "role": "agent"},
        headers=admin,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["must_change_password"] is True
    login = await api.login(body["username"], body["temporary_password"], ip=api.unique_ip())
    assert login.status_code == 200
    assert login.json()["user"]["must_change_password"] is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"full_name": None}, "full_name"),
        ({"email": "budi@@example"}, "email"),
        ({"role": "superuser"}, "role"),
        ({"role": "requester", "unit_id": None}, "unit_id"),
        ({"unit_id": str(uuid.uuid4()), "role": "requester"}, "unit_id"),
        ({"password": "short"}, "password"),
        ({"username": "a b"}, "username"),
        ({"is_admin": True}, "is_admin"),
    ],
)
async def test_user_validation_names_the_field(api, change, field):
    body = {
        "username": f"val{uuid.uuid4().hex[:6]}",
        "full_name": "Valid Name",
        "email": f"{uuid.uuid4().hex[:6]}@example.go.id",
        "role": "agent",
        "password": PASSWORD,
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = await api.client.post("/users", json=body, headers=await api.admin_headers())
    assert response.status_code == 422, response.text
    fields = [f["field"] for f in response.json()["error"]["fields"]]
    assert field in fields, fields


async def test_requester_needs_an_active_unit(api):
    unit = await api.create_unit(is_active=False)
    response = await api.client.post(
        "/users",
        json={
            "username": f"req{uuid.uuid4().hex[:6]}",
            "full_name": "Requester",
            "role": "requester",
            "unit_id": unit["id"],
        },
        headers=await api.admin_headers(),
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "inactive_unit"
    assert response.json()["error"]["fields"][0]["field"] == "unit_id"


async def test_duplicate_username_or_email_is_a_conflict(api):
    user = await api.create_user()
    admin = await api.admin_headers()
    same_name = await api.client.post(
        "/users",
        json={"username": user["username"].upper(), "full_name": "Other", "role": "agent"},
        headers=admin,
    )
    assert same_name.status_code == 409
    assert same_name.json()["error"]["code"] == "username_taken"
    assert same_name.json()["error"]["fields"][0]["field"] == "username"
    same_email = await api.client.post(
        "/users",
        json={
            "username": f"x{uuid.uuid4().hex[:6]}",
            "full_name": "Other",
            "role": "agent",
            "email": user["email"].upper(),
        },
        headers=admin,
    )
    assert same_email.status_code == 409
    assert same_email.json()["error"]["fields"][0]["field"] == "email"


async def test_admin_cannot_disable_self_or_demote_the_last_admin(api):
    admin = await api.admin_headers()
    me = (await api.client.get("/auth/me", headers=admin)).json()
    own = await api.client.post(f"/users/{me['id']}/disable", headers=admin)
    assert own.status_code == 409
    assert own.json()["error"]["code"] == "cannot_disable_self"
    demote = await api.client.patch(f"/users/{me['id']}", json={"role": "agent"}, headers=admin)
    assert demote.status_code == 409
    assert demote.json()["error"]["code"] == "last_admin"


async def test_reset_password_ends_sessions_and_returns_a_temporary_password(api):
    user = await api.create_user()
    pair = (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).json()
    response = await api.client.post(
        f"/users/{user['id']}/reset-password", headers=await api.admin_headers()
    )
    assert response.status_code == 200
    temporary = response.json()["temporary_password"]
    assert temporary and len(temporary) >= 8
    refresh = await api.client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
    assert (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).status_code == 401
    assert (await api.login(user["username"], temporary, ip=api.unique_ip())).status_code == 200


async def test_staff_list_users_without_security_details(api):
    unit = await api.create_unit()
    agent = await api.create_user(role="agent", unit_id=unit["id"], full_name="Zaki Agent")
    await api.create_user(role="requester", unit_id=unit["id"])
    token = api.bearer(await api.token_for(agent["username"], PASSWORD))
    response = await api.client.get(
        "/users", params={"role": "agent", "unit_id": unit["id"]}, headers=token
    )
    assert response.status_code == 200
    body = response.json()
    assert [u["id"] for u in body["items"]] == [agent["id"]]
    assert body["next_cursor"] is None
    assert "locked_until" not in body["items"][0]
    # One user's record in detail is for administrators.
    assert (await api.client.get(f"/users/{agent['id']}", headers=token)).status_code == 403
    detail = await api.client.get(f"/users/{agent['id']}", headers=await api.admin_headers())
    assert detail.json()["locked_until"] is None


async def all_pages(api, path: str, params: dict, headers: dict) -> list[list[dict]]:
    """Follow next_cursor from the first page to the last; the items of every page."""
    pages: list[list[dict]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor does not advance"


async def test_user_list_filters_and_paginates(api):
    marker = uuid.uuid4().hex[:6]
    for index in range(5):
        await api.create_user(full_name=f"Pegawai {marker} {index}")
    admin = await api.admin_headers()
    pages = await all_pages(api, "/users", {"q": marker, "limit": 2}, admin)
    assert [[u["full_name"] for u in page] for page in pages] == [
        [f"Pegawai {marker} 0", f"Pegawai {marker} 1"],
        [f"Pegawai {marker} 2", f"Pegawai {marker} 3"],
        [f"Pegawai {marker} 4"],
    ]
    exact = await api.client.get("/users", params={"q": marker, "limit": 5}, headers=admin)
    assert len(exact.json()["items"]) == 5
    assert exact.json()["next_cursor"] is None
    too_big = await api.client.get("/users", params={"limit": 1000}, headers=admin)
    assert too_big.status_code == 422
    assert too_big.json()["error"]["fields"][0]["field"] == "limit"
    bad_role = await api.client.get("/users", params={"role": "boss"}, headers=admin)
    assert bad_role.status_code == 422


async def test_paging_returns_each_row_exactly_once_even_with_equal_sort_keys(api):
    """Same full names and unit names: the id breaks the tie, no row repeats or vanishes."""
    marker = uuid.uuid4().hex[:6]
    users = [(await api.create_user(full_name=f"Sama {marker}"))["id"] for _ in range(7)]
    units = [(await api.create_unit(name=f"Dinas {marker}"))["id"] for _ in range(7)]
    admin = await api.admin_headers()

    user_pages = await all_pages(api, "/users", {"q": marker, "limit": 3}, admin)
    assert [len(page) for page in user_pages] == [3, 3, 1]
    listed = [u["id"] for page in user_pages for u in page]
    assert sorted(listed) == sorted(users)
    assert listed == sorted(listed)  # ties ordered by id

    unit_pages = await all_pages(api, "/units", {"q": marker, "limit": 2}, admin)
    assert [len(page) for page in unit_pages] == [2, 2, 2, 1]
    listed = [u["id"] for page in unit_pages for u in page]
    assert sorted(listed) == sorted(units)
    assert listed == sorted(listed)


async def test_a_malformed_cursor_is_a_422_naming_the_cursor(api):
    admin = await api.admin_headers()
    first = await api.client.get("/users", params={"limit": 1}, headers=admin)
    users_cursor = first.json()["next_cursor"]
    assert users_cursor
    tampered = base64.urlsafe_b64encode(json.dumps(["users", 1, 2]).encode()).decode()
    for path, cursor in [
        ("/users", "not-a-cursor!"),
        ("/users", tampered),
        ("/units", users_cursor),  # a cursor of another listing
        ("/audit-log", users_cursor),
        ("/audit-log", "%%%"),
    ]:
        response = await api.client.get(path, params={"cursor": cursor}, headers=admin)
        assert response.status_code == 422, (path, cursor, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_cursor"
        assert [f["field"] for f in error["fields"]] == ["cursor"]


# -- audit log --------------------------------------------------------------------------------


async def test_audit_log_records_who_changed_what(api):
    admin = await api.admin_headers()
    user = await api.create_user(full_name="Sebelum")
    await api.client.patch(f"/users/{user['id']}", json={"full_name": "Sesudah"}, headers=admin)
    await api.client.post(f"/users/{user['id']}/disable", headers=admin)

    response = await api.client.get(
        "/audit-log", params={"entity_type": "user", "entity_id": user["id"]}, headers=admin
    )
    assert response.status_code == 200
    entries = response.json()["items"]
    assert [e["action"] for e in entries] == ["user.disabled", "user.updated", "user.created"]
    me = (await api.client.get("/auth/me", headers=admin)).json()
    assert {e["actor_id"] for e in entries} == {me["id"]}
    assert entries[0]["actor_name"] == "Administrator"
    updated = entries[1]
    assert updated["before"]["full_name"] == "Sebelum"
    assert updated["after"]["full_name"] == "Sesudah"
    assert "password_hash" not in str(entries)
    assert entries[2]["before"] is None and entries[2]["after"]["username"] == user["username"]


async def test_audit_log_pages_newest_first_each_entry_once(api):
    admin = await api.admin_headers()
    user = await api.create_user(full_name="Versi 0")
    for version in range(1, 5):
        changed = await api.client.patch(
            f"/users/{user['id']}", json={"full_name": f"Versi {version}"}, headers=admin
        )
        assert changed.status_code == 200
    params = {"entity_type": "user", "entity_id": user["id"]}
    whole = await api.client.get("/audit-log", params=params, headers=admin)
    expected = [e["id"] for e in whole.json()["items"]]
    assert len(expected) == 5

    pages = await all_pages(api, "/audit-log", {**params, "limit": 2}, admin)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [e["id"] for page in pages for e in page] == expected
    assert pages[0][0]["after"]["full_name"] == "Versi 4"
    assert pages[-1][-1]["action"] == "user.created"


async def test_audit_log_is_for_administrators_only(api, make_token):
    for role in ("agent", "leader", "requester"):
        response = await api.client.get("/audit-log", headers=api.bearer(make_token(role)))
        assert response.status_code == 403
