"""An access token from before a role or unit change is refused by identity within moments
(helpdesk_common.standing), and a refresh signs the user's current role and unit."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from helpdesk_testing import eventually

PASSWORD = "Rahasia-123"


@pytest.fixture(scope="module")
async def api(start_identity):
    async with start_identity("identity_token_standing") as api:
        yield api


async def signed_in(api: Any, username: str) -> dict[str, Any]:
    response = await api.login(username, PASSWORD, ip=api.unique_ip())
    assert response.status_code == 200, response.text
    return response.json()


async def refused_within(api: Any, token: str, code: str) -> float:
    started = time.monotonic()

    async def refused() -> httpx.Response | None:
        response = await api.client.get("/auth/me", headers=api.bearer(token))
        return response if response.status_code == 401 else None

    response = await eventually(refused, timeout=5, interval=0.05)
    assert response.json()["error"]["code"] == code, response.text
    return time.monotonic() - started


async def refreshed(api: Any, pair: dict[str, Any]) -> dict[str, Any]:
    response = await api.client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_demoted_agents_token_is_refused_and_the_refresh_carries_the_new_role(api):
    user = await api.create_user(role="agent")
    pair = await signed_in(api, user["username"])
    me = await api.client.get("/auth/me", headers=api.bearer(pair["access_token"]))
    assert me.status_code == 200 and me.json()["role"] == "agent"

    changed = await api.client.patch(
        f"/users/{user['id']}", json={"role": "leader"}, headers=await api.admin_headers()
    )
    assert changed.status_code == 200, changed.text
    assert await refused_within(api, pair["access_token"], "token_outdated") < 5

    fresh = await refreshed(api, pair)
    assert fresh["user"]["role"] == "leader"
    me = await api.client.get("/auth/me", headers=api.bearer(fresh["access_token"]))
    assert me.status_code == 200 and me.json()["role"] == "leader"


async def test_a_moved_requesters_token_is_refused_and_the_refresh_carries_the_new_unit(api):
    first, second = await api.create_unit(), await api.create_unit()
    user = await api.create_user(role="requester", unit_id=first["id"])
    pair = await signed_in(api, user["username"])

    changed = await api.client.patch(
        f"/users/{user['id']}", json={"unit_id": second["id"]}, headers=await api.admin_headers()
    )
    assert changed.status_code == 200, changed.text
    await refused_within(api, pair["access_token"], "token_outdated")

    fresh = await refreshed(api, pair)
    assert fresh["user"]["unit_id"] == second["id"]
    me = await api.client.get("/auth/me", headers=api.bearer(fresh["access_token"]))
    assert me.status_code == 200 and me.json()["unit_id"] == second["id"]


async def test_a_profile_change_keeps_the_token(api):
    """Only role, unit and activation matter: a new name or language is no reason to sign
    in again."""
    user = await api.create_user(role="agent")
    pair = await signed_in(api, user["username"])
    changed = await api.client.patch(
        f"/users/{user['id']}", json={"full_name": "Budi S."}, headers=await api.admin_headers()
    )
    assert changed.status_code == 200, changed.text
    # The change has been read (the user's newer revision is held) and the token still counts.
    runtime = api.app.state.runtime
    await eventually(
        lambda: (
            (standing := runtime.user_standings.get(uuid.UUID(user["id"])))
            and standing.revision > 1
        ),
        timeout=5,
    )
    me = await api.client.get("/auth/me", headers=api.bearer(pair["access_token"]))
    assert me.status_code == 200, me.text
