"""Idempotency-Key on identity's administrative writes: a repeat replays the first answer,
creates nothing and publishes nothing; passwords are never stored with the key."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from helpdesk_common.idempotency import fingerprint

from .test_admin import settle


@pytest.fixture(scope="module")
async def api(start_identity):
    async with start_identity("identity_idem") as api:
        yield api


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def stored_keys(api: Any, key: str) -> list[Any]:
    async with api.app.state.runtime.sessionmaker() as session:
        result = await session.execute(
            sa.text("SELECT fingerprint, body FROM idempotency_keys WHERE key = :key"),
            {"key": key},
        )
        return list(result)


async def test_a_repeated_user_create_creates_one_user_and_one_event(api, events):
    admin = await api.admin_headers()
    key = str(uuid.uuid4())
    username = f"idem{uuid.uuid4().hex[:6]}"
    body = {"username": username, "full_name": "Dewi Lestari", "role": "agent"}
    first, *repeats = await asyncio.gather(
        *(api.client.post("/users", json=body, headers=keyed(admin, key)) for _ in range(3))
    )
    answers = [first, *repeats]
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    replayed = [a for a in answers if a.headers.get("idempotent-replayed") == "true"]
    fresh = [a for a in answers if "idempotent-replayed" not in a.headers]
    assert len(replayed) == 2 and len(fresh) == 1
    # The generated password is handed out by the first answer only: it is not stored.
    assert fresh[0].json()["temporary_password"]
    assert all(a.json()["temporary_password"] is None for a in replayed)
    assert all(a.json()["username"] == username for a in replayed)
    user_id = first.json()["id"]
    assert [e.event_type for e in await settle(events, user_id, "user_id", 1)] == ["user.created"]
    stored = await stored_keys(api, key)
    assert len(stored) == 1
    assert fresh[0].json()["temporary_password"].encode() not in bytes(stored[0].body)


async def test_another_request_with_the_key_is_refused_and_does_nothing(api, events):
    admin = await api.admin_headers()
    key = str(uuid.uuid4())
    unit = await api.client.post(
        "/units", json={"code": f"K{key[:6]}", "name": "Dinas Kunci"}, headers=keyed(admin, key)
    )
    assert unit.status_code == 201, unit.text
    other = await api.client.post(
        "/units", json={"code": f"L{key[:6]}", "name": "Dinas Lain"}, headers=keyed(admin, key)
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    listed = await api.client.get("/units", params={"q": f"L{key[:6]}"}, headers=admin)
    assert all(u["code"] != f"L{key[:6]}" for u in listed.json()["items"])


async def test_password_resets_are_done_once_and_keep_no_password(api):
    admin = await api.admin_headers()
    user = await api.create_user()
    key = str(uuid.uuid4())
    path = f"/users/{user['id']}/reset-password"
    chosen = {"new_password": "Rahasia-Baru-987"}
    first = await api.client.post(path, json=chosen, headers=keyed(admin, key))
    assert first.status_code == 200, first.text
    again = await api.client.post(path, json=chosen, headers=keyed(admin, key))
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    login = await api.login(user["username"], "Rahasia-Baru-987", ip=api.unique_ip())
    assert login.status_code == 200
    # Neither the password nor a hash of the body that holds it is kept with the key.
    (row,) = await stored_keys(api, key)
    assert b"Rahasia-Baru-987" not in bytes(row.body)
    assert row.fingerprint == fingerprint(method="POST", path=path, query=b"", body=b"{}")
