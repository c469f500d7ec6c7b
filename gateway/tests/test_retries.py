"""A service that drops a connection without answering (a worker killed, a restart): the
gateway sends an idempotent request once more on a fresh connection, and never a write that
may have taken effect and carries no Idempotency-Key."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import REGISTRY

from helpdesk_testing import free_port


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class DroppingService:
    """A real HTTP/1.1 server on loopback that reads each request, then drops the
    connection without a word for the first ``drops`` requests (``reset``: an RST, as when
    the process is killed with connections in its backlog; else a plain close), and answers
    the rest with 200 and what it saw."""

    drops: int
    reset: bool
    # Drop half-way through the answer (headers and part of the body sent) instead.
    midway: bool = False
    seen: list[Seen] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await self._read(reader):
                self.seen.append(request)
                if len(self.seen) <= self.drops:
                    self._drop(writer)
                    return
                body = json.dumps({"path": request.path, "attempt": len(self.seen)}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> Seen | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Seen(method, path, headers, body)

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        if self.midway:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b'{"partial": ')
        sock = writer.get_extra_info("socket")
        if self.reset and sock is not None:
            # Linger 0: closing sends an RST instead of a FIN (ECONNRESET on the client).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


@contextlib.asynccontextmanager
async def dropping_service(
    *, drops: int, reset: bool, midway: bool = False
) -> AsyncIterator[DroppingService]:
    service = DroppingService(drops=drops, reset=reset, midway=midway)
    server = await asyncio.start_server(service.handle, "127.0.0.1", service.port)
    try:
        yield service
    finally:
        server.close()


def retries(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "gateway_upstream_retries_total", {"service": "tickets", "outcome": outcome}
    )
    return value or 0.0


RunGateway = Callable[..., Any]


@pytest.mark.parametrize("reset", [True, False], ids=["reset", "closed"])
async def test_a_dropped_get_is_sent_again_and_answered(
    run_gateway: RunGateway, auth: dict[str, str], reset: bool
) -> None:
    answered = retries("answered")
    async with (
        dropping_service(drops=1, reset=reset) as service,
        run_gateway(tickets_url=f"http://127.0.0.1:{service.port}") as gw,
    ):
        response = await gw.get("/api/tickets/tickets/42?x=1", headers=auth)
    assert response.status_code == 200, response.text
    assert response.json() == {"path": "/tickets/42?x=1", "attempt": 2}
    assert [s.path for s in service.seen] == ["/tickets/42?x=1"] * 2
    assert retries("answered") == answered + 1


async def test_a_get_whose_answer_breaks_off_is_sent_again(
    run_gateway: RunGateway, auth: dict[str, str]
) -> None:
    async with (
        dropping_service(drops=1, reset=False, midway=True) as service,
        run_gateway(tickets_url=f"http://127.0.0.1:{service.port}") as gw,
    ):
        response = await gw.get("/api/tickets/tickets/7", headers=auth)
    assert response.status_code == 200, response.text
    assert response.json() == {"path": "/tickets/7", "attempt": 2}


async def test_a_write_with_an_idempotency_key_is_sent_again_with_the_same_body(
    run_gateway: RunGateway, auth: dict[str, str]
) -> None:
    async with (
        dropping_service(drops=1, reset=True) as service,
        run_gateway(tickets_url=f"http://127.0.0.1:{service.port}") as gw,
    ):
        response = await gw.post(
            "/api/tickets/tickets",
            headers={**auth, "Idempotency-Key": "create-7f3a"},
            json={"title": "Printer rusak"},
        )
    assert response.status_code == 200, response.text
    assert len(service.seen) == 2
    first, second = service.seen
    assert first.body == second.body == b'{"title":"Printer rusak"}'
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "create-7f3a"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_a_write_without_a_key_is_not_sent_again(
    run_gateway: RunGateway, auth: dict[str, str], method: str
) -> None:
    failed, answered = retries("failed"), retries("answered")
    async with (
        dropping_service(drops=1, reset=True) as service,
        run_gateway(tickets_url=f"http://127.0.0.1:{service.port}") as gw,
    ):
        response = await gw.request(method, "/api/tickets/tickets/1", headers=auth, json={})
    # The service may have created the ticket before it died: only the client can decide.
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "bad_gateway"
    assert len(service.seen) == 1
    assert (retries("failed"), retries("answered")) == (failed, answered)


async def test_a_get_dropped_twice_is_a_502_after_one_retry(
    run_gateway: RunGateway, auth: dict[str, str]
) -> None:
    failed = retries("failed")
    async with (
        dropping_service(drops=5, reset=False) as service,
        run_gateway(tickets_url=f"http://127.0.0.1:{service.port}") as gw,
    ):
        response = await gw.get("/api/tickets/tickets", headers=auth)
    assert response.status_code == 502, response.text
    assert len(service.seen) == 2
    assert retries("failed") == failed + 1


async def test_a_service_not_listening_is_a_503_with_retry_after(
    run_gateway: RunGateway, auth: dict[str, str]
) -> None:
    async with run_gateway(identity_url=f"http://127.0.0.1:{free_port()}") as gw:
        response = await gw.post(
            "/api/identity/auth/login", json={"username": "admin", "password": "x"}
        )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["retry-after"]) > 0
