"""Fixtures: small real upstream services on loopback ports and a gateway in front of them.

Everything runs over real sockets (``serve_http``), so streaming, timeouts and refused
connections behave as in production rather than through an in-process transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import sys

# pytest's importlib mode names this file "gateway.tests.conftest" (its path from the
# repository root) and, this directory being no package, first registers the folder
# ``gateway/`` itself as a namespace package "gateway", hiding the real ``gateway`` package
# (gateway/src/gateway). Put the real one back before anything imports from it.
if not getattr(sys.modules.get("gateway"), "__file__", None):
    sys.modules.pop("gateway", None)
    importlib.import_module("gateway")

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, create_model

from gateway.main import create_app
from gateway.settings import GatewaySettings
from helpdesk_testing import serve_http


class Recorder:
    """What an upstream saw, so tests can check what the gateway forwarded (or did not)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.upload_started = asyncio.Event()
        self.release_download = asyncio.Event()
        self.endless_stopped = asyncio.Event()

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]


class Item(BaseModel):
    """Deliberately defined differently by the two upstreams (an OpenAPI name clash)."""

    name: str


class Shared(BaseModel):
    """Defined identically by both upstreams: must appear once in the merged document."""

    code: str


def echo_app(recorder: Recorder, *, other_item: bool = False) -> FastAPI:
    app = FastAPI(title="echo")
    # Same schema name "Item", different definition: the second upstream of the OpenAPI test.
    item_model = create_model("Item", count=(int, ...)) if other_item else Item

    @app.get("/items/{item_id}", tags=["items"], response_model=item_model)
    async def get_item(item_id: str) -> dict[str, Any]:
        return {"name": item_id, "count": 1}

    @app.post("/shared", tags=["items"])
    async def shared(body: Shared) -> Shared:
        return body

    @app.get("/metrics")
    async def metrics() -> Response:
        recorder.requests.append({"path": "/metrics"})
        return Response("upstream_metric 1\n")

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/auth/login")
    async def login(request: Request) -> dict[str, Any]:
        recorder.requests.append({"path": "/auth/login", "body": await request.json()})
        return {"access_token": "issued"}

    @app.get("/auth/public-key")
    async def public_key() -> dict[str, str]:
        return {"public_key": "pem"}

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        digest = hashlib.sha256()
        size = chunks = 0
        async for chunk in request.stream():
            if chunk:
                digest.update(chunk)
                size += len(chunk)
                chunks += 1
                recorder.upload_started.set()
        return {"size": size, "sha256": digest.hexdigest(), "chunks": chunks}

    @app.get("/download")
    async def download(size: int, wait: bool = False) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            sent = 0
            block = pattern_block()
            while sent < size:
                piece = block[: min(len(block), size - sent)]
                yield piece
                sent += len(piece)
                if wait:
                    # Hold the rest back until the test has seen the first bytes arrive:
                    # only a streaming gateway can deliver them before the body is complete.
                    await recorder.release_download.wait()

        return StreamingResponse(body(), media_type="application/octet-stream")

    @app.get("/endless")
    async def endless() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"x" * 65536
                    await asyncio.sleep(0.01)
            finally:
                # Runs when the reader (the gateway) goes away.
                recorder.endless_stopped.set()

        return StreamingResponse(body(), media_type="application/octet-stream")

    @app.get("/slow")
    async def slow(delay: float) -> dict[str, float]:
        await asyncio.sleep(delay)
        return {"slept": delay}

    @app.get("/redirect")
    async def redirect() -> RedirectResponse:
        return RedirectResponse("/elsewhere", status_code=307)

    @app.api_route(
        "/{path:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def echo(path: str, request: Request) -> JSONResponse:
        body = await request.body()
        seen = {
            "method": request.method,
            "path": request.url.path,
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.url.query,
            "headers": dict(request.headers),
            "body": body.decode(errors="replace"),
        }
        recorder.requests.append(seen)
        status = int(request.query_params.get("status", "200"))
        return JSONResponse(seen, status_code=status, headers={"X-Upstream": "echo"})

    return app


def pattern_block() -> bytes:
    """256 KiB of non-repeating-looking bytes, so a shifted or dropped chunk is detected."""
    return hashlib.sha256(b"seed").digest() * 8192


def pattern(size: int) -> bytes:
    block = pattern_block()
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def upstream(recorder: Recorder) -> AsyncIterator[str]:
    async with serve_http(echo_app(recorder)) as url:
        yield url


@pytest.fixture
def gateway_settings(keypair: tuple[str, str]) -> Callable[..., GatewaySettings]:
    def build(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "environment": "test",
            "jwt_public_key": keypair[1],
            "log_json": False,
            "log_level": "WARNING",
            "rate_limit_per_second": 0,
        }
        values.update(overrides)
        return GatewaySettings(**values)

    return build


class GatewayClient(httpx.AsyncClient):
    """A client of a served gateway that also holds the app, whose state tests read."""

    def __init__(self, app: FastAPI, *, base_url: str) -> None:
        super().__init__(base_url=base_url, timeout=30)
        self.app = app


@pytest.fixture
def run_gateway(
    gateway_settings: Callable[..., GatewaySettings],
) -> Callable[..., contextlib.AbstractAsyncContextManager[GatewayClient]]:
    """``async with run_gateway(tickets_url=...) as client``: a served gateway and a client."""

    @contextlib.asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[GatewayClient]:
        app = create_app(gateway_settings(**overrides))
        async with serve_http(app) as url, GatewayClient(app, base_url=url) as client:
            yield client

    return run


@pytest.fixture
async def gateway(
    run_gateway: Callable[..., Any], upstream: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway with the echo upstream as both identity and tickets."""
    async with run_gateway(identity_url=upstream, tickets_url=upstream) as client:
        yield client


@pytest.fixture
def auth(make_token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token()}"}


@pytest.fixture
def download_body() -> Callable[[int], bytes]:
    """The bytes ``GET /download?size=N`` of the echo upstream sends."""
    return pattern


@pytest.fixture
async def other_upstream() -> AsyncIterator[str]:
    """A second echo service whose ``Item`` schema differs from the first one's."""
    async with serve_http(echo_app(Recorder(), other_item=True)) as url:
        yield url
