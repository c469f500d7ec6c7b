"""The services' token check: verified tokens are remembered until they expire, never longer;
the internal token of service-to-service calls."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import ClassVar

import httpx
import pytest
from fastapi import FastAPI

from helpdesk_common.auth import (
    CurrentUser,
    InternalCaller,
    Principal,
    VerifiedTokens,
    sign_access_token,
)
from helpdesk_common.bus import Bus
from helpdesk_common.db import create_engine, create_sessionmaker
from helpdesk_common.errors import install_error_handlers
from helpdesk_common.runtime import Runtime
from helpdesk_common.settings import ServiceSettings


def test_remembered_until_expiry():
    tokens = VerifiedTokens()
    principal = Principal(user_id=uuid.uuid4(), role="agent")
    tokens.put("a", principal, time.time() + 60)
    tokens.put("b", principal, time.time() - 1)
    assert tokens.get("a") is principal
    assert tokens.get("b") is None
    assert tokens.get("c") is None


def test_oldest_make_way_when_full():
    tokens = VerifiedTokens(size=10)
    principal = Principal(user_id=uuid.uuid4(), role="agent")
    for i in range(25):
        tokens.put(str(i), principal, time.time() + 60)
    assert tokens.get("24") is principal
    assert tokens.get("0") is None


@pytest.fixture
def app_and_keys(keypair):
    private, public = keypair
    app = FastAPI()
    settings = ServiceSettings(jwt_public_key=public)
    engine = create_engine(settings)  # never connects: these routes use no database
    app.state.runtime = Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        bus=Bus(settings),
    )
    install_error_handlers(app)

    @app.get("/me")
    async def me(principal: CurrentUser) -> dict[str, str]:
        return {"user_id": str(principal.user_id)}

    return app, private


def _token(private: str, ttl: timedelta) -> str:
    principal = Principal(user_id=uuid.uuid4(), role="requester")
    return sign_access_token(
        principal, private_key=private, issuer="helpdesk-identity", audience="helpdesk", ttl=ttl
    )


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_cached_token_is_refused_once_expired(app_and_keys):
    app, private = app_and_keys
    token = _token(private, timedelta(seconds=2))
    async with _client(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/me", headers=headers)).status_code == 200
        assert (await client.get("/me", headers=headers)).status_code == 200
        await asyncio.sleep(2.1)
        response = await client.get("/me", headers=headers)
        assert response.status_code == 401


async def test_a_bad_token_is_refused_every_time(app_and_keys):
    app, private = app_and_keys
    token = _token(private, timedelta(minutes=5))
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    async with _client(app) as client:
        for _ in range(2):
            headers = {"Authorization": f"Bearer {forged}"}
            response = await client.get("/me", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "invalid_token"


def _internal_app(internal_token: str) -> FastAPI:
    app = FastAPI()
    settings = ServiceSettings(internal_token=internal_token)
    engine = create_engine(settings)  # never connects
    app.state.runtime = Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        bus=Bus(settings),
    )
    install_error_handlers(app)

    @app.get("/internal/ping")
    async def ping(_: InternalCaller) -> dict[str, bool]:
        return {"ok": True}

    return app


async def test_the_internal_token_is_required_on_internal_endpoints():
    async with _client(_internal_app("s3cret-token")) as client:
        ok = await client.get("/internal/ping", headers={"X-Internal-Token": "s3cret-token"})
        assert ok.status_code == 200 and ok.json() == {"ok": True}
        # Header names are case-insensitive.
        ok = await client.get("/internal/ping", headers={"x-internal-token": "s3cret-token"})
        assert ok.status_code == 200
        cases: list[dict[str, str]] = [
            {},
            {"X-Internal-Token": ""},
            {"X-Internal-Token": "s3cret-toke"},
            {"X-Internal-Token": "s3cret-token "},
            # A user's bearer token is no substitute.
            {"Authorization": "Bearer s3cret-token"},
        ]
        for headers in cases:
            response = await client.get("/internal/ping", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "invalid_internal_token"
        # Not ASCII: refused like any wrong token, not a 500.
        raw = [(b"X-Internal-Token", "s3cret-tökén".encode())]
        response = await client.get("/internal/ping", headers=raw)
        assert response.status_code == 401


async def test_without_an_internal_token_the_internal_api_is_switched_off():
    async with _client(_internal_app("")) as client:
        for headers in ({}, {"X-Internal-Token": ""}, {"X-Internal-Token": "anything"}):
            response = await client.get("/internal/ping", headers=headers)
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "internal_api_disabled"


class _ServesInternalApi(ServiceSettings):
    needs_internal_token: ClassVar[bool] = True


def test_production_refuses_an_unsafe_internal_token():
    with pytest.raises(ValueError, match="internal_token"):
        ServiceSettings(environment="production", internal_token="change-me")
    with pytest.raises(ValueError, match="internal_token"):
        _ServesInternalApi(environment="production", internal_token="")
    with pytest.raises(ValueError, match="internal_token"):
        _ServesInternalApi(environment="production", internal_token="Secret")
    # A service without an internal API may leave it empty; a real token passes anywhere.
    assert ServiceSettings(environment="production").internal_token == ""
    assert _ServesInternalApi(environment="production", internal_token="x" * 32).internal_token
    # Outside production an empty token (API switched off) or a trial value is allowed.
    assert _ServesInternalApi(internal_token="").internal_token == ""
    assert _ServesInternalApi(internal_token="change-me").internal_token == "change-me"
