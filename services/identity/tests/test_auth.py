"""Sign-in, tokens, lock-out, refresh rotation, sign-out and the user's own account."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from helpdesk_common.auth import generate_keypair
from helpdesk_testing import eventually
from identity.auth import refresh, throttle
from identity.models import LoginAttempt, LoginIpThrottle, RefreshToken, User, utcnow

PASSWORD = "Rahasia-123"


@pytest.fixture(scope="module")
async def api(start_identity):
    # A short per-address block keeps the test fast; the limits themselves are real (the
    # sign-in delays have their tests in test_sign_in_throttle.py).
    async with start_identity(
        "identity_auth",
        login_delay_after_failures=3,
        login_ip_max_failures=4,
        login_ip_window_seconds=60,
        login_ip_block_seconds=1,
    ) as api:
        yield api


async def test_login_returns_a_token_pair_and_the_profile(api):
    user = await api.create_user(role="leader", language="en")
    response = await api.login(user["username"].upper(), PASSWORD, ip=api.unique_ip())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["refresh_token"] and body["access_token"]
    assert body["user"]["id"] == user["id"]
    assert body["user"]["role"] == "leader"
    assert "password_hash" not in body["user"] and "$argon2" not in response.text
    me = await api.client.get("/auth/me", headers=api.bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == user["username"]
    assert me.json()["language"] == "en"


async def test_wrong_password_and_unknown_user_get_the_same_401(api):
    user = await api.create_user()
    wrong = await api.login(user["username"], "not-the-password", ip=api.unique_ip())
    unknown = await api.login(f"ghost{uuid.uuid4().hex[:6]}", PASSWORD, ip=api.unique_ip())
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"]
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert wrong.headers["WWW-Authenticate"] == "Bearer"


async def test_login_validation_names_the_missing_field(api):
    response = await api.client.post("/auth/login", json={"username": "admin"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "password"


async def test_expired_token_is_rejected(api, make_token):
    token = make_token("admin", ttl=timedelta(seconds=-30))
    response = await api.client.get("/users", headers=api.bearer(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


async def test_tampered_token_is_rejected(api):
    token = await api.token_for("admin", api.admin_password)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    response = await api.client.get("/users", headers=api.bearer(f"{header}.{payload}.{flipped}"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_token_signed_by_another_key_is_rejected(api, make_token):
    other_private, _ = generate_keypair()
    token = make_token("admin", private_key=other_private)
    response = await api.client.get("/users", headers=api.bearer(token))
    assert response.status_code == 401


async def test_missing_token_is_rejected(api):
    response = await api.client.get("/auth/me")
    assert response.status_code == 401


async def test_requester_calling_an_admin_endpoint_gets_403(api):
    unit = await api.create_unit()
    requester = await api.create_user(role="requester", unit_id=unit["id"])
    token = await api.token_for(requester["username"], PASSWORD)
    for method, path in (("GET", "/audit-log"), ("POST", "/users"), ("GET", "/users")):
        response = await api.client.request(method, path, headers=api.bearer(token), json={})
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "forbidden"


async def test_one_address_failing_for_many_usernames_is_rate_limited(api):
    ip = api.unique_ip()
    for _ in range(3):
        response = await api.login(f"nobody{uuid.uuid4().hex[:6]}", "x", ip=ip)
        assert response.status_code == 401
    # The fourth failure blocks the address: the next attempt is not even checked.
    assert (await api.login(f"nobody{uuid.uuid4().hex[:6]}", "x", ip=ip)).status_code == 401
    blocked = await api.login(f"nobody{uuid.uuid4().hex[:6]}", "x", ip=ip)
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers
    # The block is per address: the admin still signs in from elsewhere, not from here.
    assert (await api.login("admin", api.admin_password, ip=ip)).status_code == 429
    assert (await api.login("admin", api.admin_password, ip=api.unique_ip())).status_code == 200
    await asyncio.sleep(1.2)
    assert (await api.login("admin", api.admin_password, ip=ip)).status_code == 200


async def test_refresh_rotates_and_reuse_revokes_the_whole_session(api):
    user = await api.create_user()
    first = (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).json()
    rotated = await api.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    me = await api.client.get("/auth/me", headers=api.bearer(second["access_token"]))
    assert me.json()["id"] == user["id"]

    # The used-up token comes back: someone copied it. Both tokens stop working.
    reused = await api.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "refresh_token_reused"
    latest = await api.client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert latest.status_code == 401


async def test_refresh_with_garbage_is_rejected(api):
    response = await api.client.post("/auth/refresh", json={"refresh_token": "garbage"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_refresh_token"


async def test_logout_revokes_the_refresh_token(api):
    user = await api.create_user()
    pair = (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).json()
    other = (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).json()
    response = await api.client.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 204
    again = await api.client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401
    # Only that session ended.
    still = await api.client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert still.status_code == 200
    # Logging out twice (or with an unknown token) is harmless.
    assert (
        await api.client.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})
    ).status_code == 204


async def test_disabled_user_cannot_log_in_or_refresh(api):
    user = await api.create_user()
    pair = (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).json()
    admin = await api.admin_headers()
    disabled = await api.client.post(f"/users/{user['id']}/disable", headers=admin)
    assert disabled.status_code == 200
    response = await api.login(user["username"], PASSWORD, ip=api.unique_ip())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_disabled"
    refresh = await api.client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
    me = await api.client.get("/auth/me", headers=api.bearer(pair["access_token"]))
    assert me.status_code == 401


async def test_user_updates_own_profile(api):
    user = await api.create_user(language="id")
    token = await api.token_for(user["username"], PASSWORD)
    response = await api.client.patch(
        "/auth/me",
        json={"full_name": "Budi S.", "language": "en", "email": "Budi.S@Example.GO.ID"},
        headers=api.bearer(token),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["full_name"], body["language"]) == ("Budi S.", "en")
    assert body["email"] == "Budi.S@example.go.id"
    assert body["revision"] == 2
    # Role is not the user's to change.
    forbidden = await api.client.patch(
        "/auth/me", json={"role": "admin"}, headers=api.bearer(token)
    )
    assert forbidden.status_code == 422
    assert forbidden.json()["error"]["fields"][0]["field"] == "role"


async def test_password_change_ends_other_sessions(api):
    user = await api.create_user()
    mine = (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).json()
    other = (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).json()
    wrong = await api.client.post(
        "/auth/me/password",
        json={"current_password": "nope-nope", "new_password": "Baru-Rahasia-456"},
        headers=api.bearer(mine["access_token"]),
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "wrong_password"
    assert wrong.json()["error"]["fields"][0]["field"] == "current_password"
    short = await api.client.post(
        "/auth/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=api.bearer(mine["access_token"]),
    )
    assert short.status_code == 422
    assert short.json()["error"]["fields"][0]["field"] == "new_password"

    changed = await api.client.post(
        "/auth/me/password",
        json={"current_password": PASSWORD, "new_password": "Baru-Rahasia-456"},
        headers=api.bearer(mine["access_token"]),
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    for old in (mine, other):
        response = await api.client.post(
            "/auth/refresh", json={"refresh_token": old["refresh_token"]}
        )
        assert response.status_code == 401
    kept = await api.client.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert kept.status_code == 200
    assert (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).status_code == 401
    ok = await api.login(user["username"], "Baru-Rahasia-456", ip=api.unique_ip())
    assert ok.status_code == 200


async def test_hash_made_with_old_parameters_is_upgraded_on_login(api):
    user = await api.create_user()
    old_hash = PasswordHasher(time_cost=2, memory_cost=512, parallelism=1).hash(PASSWORD)
    sessionmaker = api.app.state.runtime.sessionmaker
    async with sessionmaker() as session, session.begin():
        await session.execute(
            sa.update(User).where(User.id == uuid.UUID(user["id"])).values(password_hash=old_hash)
        )
    assert (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).status_code == 200
    async with sessionmaker() as session:
        new_hash = await session.scalar(
            sa.select(User.password_hash).where(User.id == uuid.UUID(user["id"]))
        )
    assert new_hash != old_hash
    assert "m=1024,t=1,p=1" in new_hash
    assert (await api.login(user["username"], PASSWORD, ip=api.unique_ip())).status_code == 200


async def test_public_key_is_served_without_authentication(api, keypair):
    response = await api.client.get("/auth/public-key")
    assert response.status_code == 200
    body = response.json()
    assert body["algorithm"] == "EdDSA"
    assert body["public_key"].split() == keypair[1].split()


async def test_housekeeping_forgets_expired_tokens_and_stale_addresses(api):
    user = await api.create_user()
    ip = api.unique_ip()
    await api.login(user["username"], PASSWORD, ip=ip)
    await api.login(user["username"], "wrong-password", ip=ip)
    later = utcnow() + timedelta(days=30)
    async with api.app.state.runtime.sessionmaker() as session, session.begin():
        purged = await refresh.purge_expired(session, before=later)
        await throttle.purge_stale(session, policy=api.app.state.runtime.policy, now=later)
    assert purged >= 1
    async with api.app.state.runtime.sessionmaker() as session:
        assert await session.get(LoginIpThrottle, ip) is None
        assert await session.get(LoginAttempt, (user["username"].lower(), ip)) is None
        tokens = await session.scalar(
            sa.select(sa.func.count()).where(RefreshToken.user_id == uuid.UUID(user["id"]))
        )
    assert tokens == 0


async def test_a_disabled_users_access_token_stops_working_before_it_expires(api):
    user = await api.create_user()
    token = await api.token_for(user["username"], PASSWORD)
    assert (await api.client.get("/auth/me", headers=api.bearer(token))).status_code == 200

    disabled = await api.client.post(
        f"/users/{user['id']}/disable", headers=await api.admin_headers()
    )
    assert disabled.status_code == 200, disabled.text

    async def refused() -> httpx.Response | None:
        response = await api.client.get("/auth/me", headers=api.bearer(token))
        return response if response.status_code == 401 else None

    # Within the service's re-read interval, not the token's 15 minutes.
    response = await eventually(refused, timeout=api.settings.user_standing_check_seconds + 10)
    assert response.json()["error"]["code"] == "account_disabled"
