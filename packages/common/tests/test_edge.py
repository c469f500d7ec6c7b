"""The app factory's one request layer (helpdesk_common.edge) answers as the four it replaced:
request id, body-size limit, NUL guard, read retry, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from helpdesk_common.edge import ServiceEdgeMiddleware
from helpdesk_common.errors import install_error_handlers
from helpdesk_common.inputs import NUL_MESSAGE


def make_app(calls: dict[str, int]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(ServiceEdgeMiddleware, max_body_bytes=100)

    @app.post("/edge/echo")
    async def echo(body: dict[str, str]) -> dict[str, int]:
        return {"length": len(body["text"])}

    @app.get("/edge/flaky")
    async def flaky(q: str = "") -> dict[str, int]:
        calls["read"] = calls.get("read", 0) + 1
        if calls["read"] == 1:
            # What a database restart does to a pooled connection under a request.
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
        return {"runs": calls["read"]}

    @app.post("/edge/flaky")
    async def flaky_write() -> dict[str, int]:
        calls["write"] = calls.get("write", 0) + 1
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    return app


async def test_one_layer_keeps_request_ids_limits_guard_and_read_retry() -> None:
    calls: dict[str, int] = {}
    transport = httpx.ASGITransport(app=make_app(calls))

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(20):
            yield b"x" * 10
        yield b'"}'

    def refused_413() -> tuple[float, float]:
        # Refused by its Content-Length before routing ("unmatched"), or while the route
        # read the chunks (its template).
        return tuple(  # type: ignore[return-value]
            REGISTRY.get_sample_value(
                "http_requests_total", {"method": "POST", "route": route, "status": "413"}
            )
            or 0.0
            for route in ("unmatched", "/edge/echo")
        )

    before = refused_413()
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        small = await client.post(
            "/edge/echo", json={"text": "kecil"}, headers={"X-Request-ID": "r-1"}
        )
        declared = await client.post("/edge/echo", json={"text": "x" * 200})
        chunked = await client.post(
            "/edge/echo", content=chunks(), headers={"Content-Type": "application/json"}
        )
        nul = await client.get("/edge/flaky", params={"q": "a\x00b"})
        read = await client.get("/edge/flaky")
        write = await client.post("/edge/flaky")

    assert small.status_code == 200 and small.headers["x-request-id"] == "r-1"
    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "body_too_large"
        # The refusal carries the request id, in the header and in the body.
        assert response.json()["request_id"] == response.headers["x-request-id"]
    assert refused_413() == (before[0] + 1, before[1] + 1)
    assert nul.status_code == 422
    assert nul.json()["error"]["fields"] == [{"field": "q", "message": NUL_MESSAGE}]
    # A read whose connection died runs again (the first run's 503 is never sent)...
    assert read.status_code == 200 and read.json() == {"runs": 2}
    # ... a write does not: it may have committed, the client decides.
    assert write.status_code == 503 and calls["write"] == 1
