"""Large bodies stream through the gateway in both directions, never held whole in memory."""

from __future__ import annotations

import asyncio
import hashlib
import tracemalloc
from collections.abc import AsyncIterator

import httpx

from helpdesk_testing import eventually

SIZE = 20 * 1024 * 1024
CHUNK = 1024 * 1024


def _body() -> bytes:
    return bytes(range(256)) * (SIZE // 256)


async def test_upload_20mb_chunked_is_streamed(gateway: httpx.AsyncClient, auth, recorder):
    data = _body()

    async def chunks() -> AsyncIterator[bytes]:
        yield data[:CHUNK]
        # The service must see the first megabyte before the client sends the rest: a
        # gateway that collected the whole body first would never get here.
        await eventually(recorder.upload_started.is_set, timeout=10)
        for start in range(CHUNK, SIZE, CHUNK):
            yield data[start : start + CHUNK]

    response = await gateway.post("/api/tickets/upload", headers=auth, content=chunks())
    assert response.status_code == 200
    result = response.json()
    assert result["size"] == SIZE
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    assert result["chunks"] > 1


async def test_upload_with_content_length(gateway: httpx.AsyncClient, auth):
    data = _body()
    response = await gateway.post("/api/tickets/upload", headers=auth, content=data)
    assert response.status_code == 200
    assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()


async def test_download_20mb(gateway: httpx.AsyncClient, auth, download_body):
    digest = hashlib.sha256()
    size = 0
    async with gateway.stream("GET", f"/api/tickets/download?size={SIZE}", headers=auth) as r:
        assert r.status_code == 200
        # The service streams without a length; so does the gateway (no buffering to count).
        assert r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers
        async for chunk in r.aiter_raw():
            digest.update(chunk)
            size += len(chunk)
    assert size == SIZE
    assert digest.hexdigest() == hashlib.sha256(download_body(SIZE)).hexdigest()


async def test_download_first_bytes_arrive_before_the_body_is_complete(
    gateway: httpx.AsyncClient, auth, recorder
):
    url = f"/api/tickets/download?size={SIZE}&wait=true"
    async with gateway.stream("GET", url, headers=auth) as response:
        chunks = response.aiter_raw()
        # The service holds the rest back until we have the first bytes: a gateway that
        # read the whole response first would make this wait forever.
        first = await asyncio.wait_for(anext(chunks), timeout=10)
        assert first
        recorder.release_download.set()
        size = len(first) + sum([len(chunk) async for chunk in chunks])
    assert size == SIZE


async def test_client_leaving_stops_the_download_from_the_service(
    gateway: httpx.AsyncClient, auth, recorder
):
    async with gateway.stream("GET", "/api/tickets/endless", headers=auth) as response:
        chunks = response.aiter_raw()
        for _ in range(3):
            await anext(chunks)
    # Leaving the block closed the client's connection; the gateway must notice and close
    # its own to the service instead of reading an endless body into the void.
    await eventually(recorder.endless_stopped.is_set, timeout=5)


async def test_memory_stays_flat_while_streaming(gateway: httpx.AsyncClient, auth):
    """Upload and download 20 MB each with the whole process traced: the peak of Python
    allocations stays well below the body size (the client sends from a generator)."""

    async def chunks() -> AsyncIterator[bytes]:
        block = b"x" * CHUNK
        for _ in range(SIZE // CHUNK):
            yield block

    tracemalloc.start()
    try:
        response = await gateway.post("/api/tickets/upload", headers=auth, content=chunks())
        assert response.json()["size"] == SIZE
        async with gateway.stream("GET", f"/api/tickets/download?size={SIZE}", headers=auth) as r:
            async for _ in r.aiter_raw():
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < SIZE / 2, f"peak {peak} bytes"


async def test_body_limit(run_gateway, upstream, auth, recorder):
    async with run_gateway(tickets_url=upstream, max_request_body_bytes=1000) as gw:
        response = await gw.post("/api/tickets/upload", headers=auth, content=b"x" * 1001)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * 500

        # Without a Content-Length the limit is enforced while streaming.
        response = await gw.post("/api/tickets/upload", headers=auth, content=chunks())
        assert response.status_code == 413

        response = await gw.post("/api/tickets/upload", headers=auth, content=b"x" * 1000)
        assert response.status_code == 200


async def test_open_event_streams_never_take_the_connections_other_requests_need(
    run_gateway, upstream: str, auth
):
    # One pooled connection per service: two pages' event streams (held open) must leave
    # it to the page's other requests (server-sent events have a pool of their own).
    events = {**auth, "Accept": "text/event-stream"}
    async with (
        run_gateway(
            identity_url=upstream, tickets_url=upstream, upstream_max_connections=1
        ) as gateway,
        gateway.stream("GET", "/api/tickets/endless", headers=events) as first,
        gateway.stream("GET", "/api/tickets/endless", headers=events) as second,
    ):
        assert (first.status_code, second.status_code) == (200, 200)
        for _ in range(3):
            response = await gateway.get("/api/tickets/items/42", headers=auth)
            assert response.status_code == 200, response.text
