"""The headers the gateway adds under /api/: no-store on API responses (login above all)
unless a service says otherwise, nosniff, and the web client's security headers on the API
documentation (with a policy that still lets its one inline script run, and no other)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from helpdesk_testing import serve_http

INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@pytest.fixture
async def caching_upstream() -> AsyncIterator[str]:
    """A service whose download sets its own caching, as the attachments service's does."""
    app = FastAPI()

    @app.get("/files/{name}/content")
    async def content(name: str) -> JSONResponse:
        return JSONResponse({"name": name}, headers={"Cache-Control": "private, max-age=3600"})

    async with serve_http(app) as url:
        yield url


async def test_login_and_every_api_answer_are_not_stored(
    gateway: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    login = await gateway.post("/api/identity/auth/login", json={"username": "a", "password": "b"})
    assert login.status_code == 200
    assert login.headers["cache-control"] == "no-store"
    assert login.headers["x-content-type-options"] == "nosniff"

    for response in (
        await gateway.get("/api/tickets/tickets/1", headers=auth),  # a service's answer
        await gateway.get("/api/tickets/tickets/1?status=404", headers=auth),  # its error
        await gateway.get("/api/tickets/tickets/1"),  # the gateway's own 401
        await gateway.get("/api/nosuchservice/x", headers=auth),  # the gateway's own 404
    ):
        assert response.headers["cache-control"] == "no-store", (
            response.status_code,
            response.headers,
        )
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_services_own_caching_is_kept(
    run_gateway: Callable[..., Any], caching_upstream: str, auth: dict[str, str]
) -> None:
    async with run_gateway(attachments_url=caching_upstream) as client:
        response = await client.get("/api/attachments/files/a/content", headers=auth)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, max-age=3600"


async def test_the_web_clients_files_keep_their_caching(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/app.js")
    assert response.status_code == 200
    # Static files are revalidated by their ETag: never no-store.
    assert "no-store" not in response.headers.get("cache-control", "")
    assert response.headers["etag"]


async def test_the_docs_have_the_web_clients_security_headers(gateway: httpx.AsyncClient) -> None:
    docs = await gateway.get("/api/docs")
    assert docs.status_code == 200
    for response in (docs, await gateway.get("/api/openapi.json")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    policy = dict(
        part.strip().split(" ", 1)
        for part in docs.headers["content-security-policy"].split(";")
        if part.strip()
    )
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    # The page's one inline script (Swagger UI's start) is allowed by its hash, and only it:
    # no 'unsafe-inline' for scripts, no other host.
    scripts = INLINE_SCRIPT.findall(docs.text)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert "http" not in docs.headers["content-security-policy"]
    # The page loads its files from the gateway, each served with nosniff (and cacheable).
    assets = re.findall(r'(?:src|href)="(/api/docs/assets/[^"]+)"', docs.text)
    assert len(assets) == 3
    for path in assets:
        asset = await gateway.get(path)
        assert asset.status_code == 200, path
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert "no-store" not in asset.headers.get("cache-control", "")
