"""Authentication at the edge: 401 before any service is called, except the public routes."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import httpx

from helpdesk_common.auth import generate_keypair
from helpdesk_testing import eventually


def _tamper(token: str) -> str:
    """Change the token's role claim but keep the original signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def _refused(client: httpx.AsyncClient, headers: dict[str, str]) -> dict:
    response = await client.get("/api/tickets/tickets", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/json"
    return response.json()["error"]


async def test_missing_and_malformed_tokens(gateway: httpx.AsyncClient, recorder):
    assert (await _refused(gateway, {}))["code"] == "not_authenticated"
    assert (await _refused(gateway, {"Authorization": "Basic dXNlcjpwYXNz"}))[
        "code"
    ] == "not_authenticated"
    assert (await _refused(gateway, {"Authorization": "Bearer not-a-jwt"}))[
        "code"
    ] == "invalid_token"
    assert recorder.requests == []


async def test_expired_token(gateway: httpx.AsyncClient, make_token, recorder):
    token = make_token(ttl=timedelta(seconds=-5))
    error = await _refused(gateway, {"Authorization": f"Bearer {token}"})
    assert error["code"] == "token_expired"
    assert recorder.requests == []


async def test_tampered_and_foreign_tokens(gateway: httpx.AsyncClient, make_token, recorder):
    token = make_token("requester")
    error = await _refused(gateway, {"Authorization": f"Bearer {_tamper(token)}"})
    assert error["code"] == "invalid_token"
    foreign = make_token(private_key=generate_keypair()[0])
    error = await _refused(gateway, {"Authorization": f"Bearer {foreign}"})
    assert error["code"] == "invalid_token"
    assert recorder.requests == []


async def test_valid_token_is_forwarded_unchanged(gateway: httpx.AsyncClient, make_token):
    token = make_token("requester")
    for _ in range(2):  # the second request is answered from the verification cache
        response = await gateway.get("/api/tickets/x", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.json()["headers"]["authorization"] == f"Bearer {token}"


async def test_cached_token_still_expires(gateway: httpx.AsyncClient, make_token):
    token = make_token(ttl=timedelta(seconds=2))
    headers = {"Authorization": f"Bearer {token}"}
    assert (await gateway.get("/api/tickets/x", headers=headers)).status_code == 200

    async def refused() -> bool:
        return (await gateway.get("/api/tickets/x", headers=headers)).status_code == 401

    started = time.monotonic()
    await eventually(refused, timeout=5, interval=0.2)
    assert time.monotonic() - started < 4
    assert (await _refused(gateway, headers))["code"] == "token_expired"


async def test_public_routes_need_no_token(gateway: httpx.AsyncClient, recorder):
    response = await gateway.post(
        "/api/identity/auth/login", json={"username": "siti", "password": "rahasia"}
    )
    assert response.status_code == 200
    assert recorder.last == {
        "path": "/auth/login",
        "body": {"username": "siti", "password": "rahasia"},
    }
    response = await gateway.get("/api/identity/auth/public-key")
    assert response.status_code == 200
    assert response.json() == {"public_key": "pem"}
    response = await gateway.post("/api/identity/auth/refresh", json={"refresh_token": "r"})
    assert response.status_code == 200  # reached the echo upstream

    # Only the exact method and path are public.
    assert (await gateway.get("/api/identity/auth/login")).status_code == 401
    assert (await gateway.post("/api/identity/auth/login/x")).status_code == 401
    assert (await gateway.post("/api/tickets/auth/login")).status_code == 401


async def test_without_a_public_key_protected_routes_answer_503(run_gateway, upstream, auth):
    async with run_gateway(tickets_url=upstream, identity_url=upstream, jwt_public_key="") as gw:
        response = await gw.get("/api/tickets/x", headers=auth)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "auth_not_configured"
        # Signing in still works: it needs no verification.
        response = await gw.post("/api/identity/auth/login", json={"username": "a"})
        assert response.status_code == 200
