"""A service that is down, slow or dies mid-answer; rate limiting."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from helpdesk_testing import free_port, serve_http


async def test_service_down_is_a_quick_503(run_gateway, auth):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with run_gateway(tickets_url=dead) as gw:
        started = time.monotonic()
        response = await gw.post("/api/tickets/tickets", headers=auth, json={"title": "x"})
        assert time.monotonic() - started < 1
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "service_unavailable"
    assert "tickets" in body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]


async def test_slow_service_is_a_504(run_gateway, upstream, auth):
    async with run_gateway(tickets_url=upstream, read_timeout=0.3) as gw:
        started = time.monotonic()
        response = await gw.get("/api/tickets/slow?delay=1", headers=auth)
        assert time.monotonic() - started < 2
        assert response.status_code == 504
        assert response.json()["error"]["code"] == "gateway_timeout"
        # The pool is still usable after the timed-out call.
        response = await gw.get("/api/tickets/slow?delay=0", headers=auth)
        assert response.status_code == 200


async def test_service_dying_mid_body_truncates_the_response(run_gateway, auth):
    app = FastAPI()

    @app.get("/broken")
    async def broken() -> StreamingResponse:
        async def body():
            yield b"x" * 1000
            await asyncio.sleep(0.05)
            raise RuntimeError("service crashed while streaming")

        return StreamingResponse(body())

    async with serve_http(app) as url, run_gateway(tickets_url=url) as gw:
        # The status was already sent, so the client can only see the body end early.
        try:
            async with gw.stream("GET", "/api/tickets/broken", headers=auth) as response:
                assert response.status_code == 200
                await response.aread()
            raise AssertionError("the truncated body went unnoticed")
        except httpx.RemoteProtocolError:
            pass
        # The gateway itself carries on.
        assert (await gw.get("/health/live")).status_code == 200


async def test_service_dying_within_a_small_body_is_a_502(run_gateway, auth):
    async def short_body(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = [(b"content-length", b"1000"), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
        raise RuntimeError("service crashed mid-answer")

    async with serve_http(short_body) as url, run_gateway(tickets_url=url) as gw:
        response = await gw.get("/api/tickets/x", headers=auth)
    # Small bodies are read before the gateway answers, so this is still a clean error.
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "bad_gateway"


async def test_rate_limit_per_subject(run_gateway, upstream, make_token):
    async with run_gateway(tickets_url=upstream, rate_limit_per_second=1, rate_limit_burst=3) as gw:
        alice = {"Authorization": f"Bearer {make_token()}"}
        statuses = [(await gw.get("/api/tickets/x", headers=alice)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = await gw.get("/api/tickets/x", headers=alice)
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["code"] == "rate_limited"
        # Another user (same address) has a bucket of their own.
        bob = {"Authorization": f"Bearer {make_token()}"}
        assert (await gw.get("/api/tickets/x", headers=bob)).status_code == 200
        # A token refills at the configured rate.
        await asyncio.sleep(1.05)
        assert (await gw.get("/api/tickets/x", headers=alice)).status_code == 200


async def test_rate_limit_per_address_for_anonymous_requests(run_gateway, upstream, make_token):
    async with run_gateway(
        identity_url=upstream, tickets_url=upstream, rate_limit_per_second=0.5, rate_limit_burst=2
    ) as gw:
        login = {"username": "a", "password": "b"}
        for _ in range(2):
            response = await gw.post("/api/identity/auth/login", json=login)
            assert response.status_code == 200
        response = await gw.post("/api/identity/auth/login", json=login)
        assert response.status_code == 429
        # Failed token checks spend the same address's budget, so guessing is throttled too...
        response = await gw.get("/api/tickets/x", headers={"Authorization": "Bearer forged"})
        assert response.status_code == 429
        # ...while a valid token is judged by its own subject's budget.
        user = {"Authorization": f"Bearer {make_token()}"}
        response = await gw.get("/api/tickets/x", headers=user)
        assert response.status_code == 429  # its first check needs the address's budget
        # A client cannot escape to another address's budget by naming one: no proxy is
        # trusted by default, so its X-Forwarded-For is not believed.
        spoofed = {"X-Forwarded-For": "198.51.100.7"}
        response = await gw.post("/api/identity/auth/login", json=login, headers=spoofed)
        assert response.status_code == 429


async def test_an_ingress_address_is_believed_when_configured(
    run_gateway, upstream, recorder, make_token
):
    """Behind a configured ingress (here the test client's 127.0.0.1) the address it names
    is the client: counted apart, and forwarded to the service as the only hop."""
    async with run_gateway(
        identity_url=upstream,
        rate_limit_per_second=0.5,
        rate_limit_burst=2,
        trusted_proxies="127.0.0.1/32, ::1",
    ) as gw:
        login = {"username": "a", "password": "b"}
        first = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}
        for _ in range(2):
            response = await gw.post("/api/identity/auth/login", json=login, headers=first)
            assert response.status_code == 200
        response = await gw.post("/api/identity/auth/login", json=login, headers=first)
        assert response.status_code == 429
        # Another client behind the ingress has its own budget, and the service is told
        # the address the ingress named (the nearest untrusted hop), as the only one.
        other = {"X-Forwarded-For": "6.6.6.6, 198.51.100.8"}
        response = await gw.post("/api/identity/auth/login", json=login, headers=other)
        assert response.status_code == 200
        user = {"Authorization": f"Bearer {make_token()}", **other}
        assert (await gw.get("/api/identity/x", headers=user)).status_code == 200
        assert recorder.last["headers"]["x-forwarded-for"] == "198.51.100.8"
