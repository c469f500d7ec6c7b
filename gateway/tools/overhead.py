"""Measure what the gateway costs per request (Linux; run from the repository root):

    uv run python gateway/tools/overhead.py [--requests 20000] [--concurrency 32] [--rate 500]

Starts a trivial upstream (raw ASGI, answers 201 with a small JSON body, like a ticket
create) and the real gateway in front of it, each a uvicorn process, then sends the same
POST with a bearer token at fixed concurrency, first directly to the upstream and then
through the gateway; as fast as possible, or paced at ``--rate`` requests per second in
total. Prints throughput and latency of both and the gateway process's CPU time
per request (from /proc), which is the figure that matters on a machine whose cores the
gateway shares with the services. The load client is a minimal keep-alive HTTP/1.1 client on
raw asyncio sockets so that the client itself costs little CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

RESPONSE = json.dumps(
    {
        "id": "0b9f3c1e-5d2a-4c7e-9a1b-123456789abc",
        "number": "TKT-2026-000123",
        "title": "Printer rusak di lantai 2",
        "status": "new",
        "priority": "normal",
        "created_at": "2026-11-22T07:00:00Z",
    }
).encode()
REQUEST = json.dumps(
    {"title": "Printer rusak", "description": "Kertas macet " * 20, "category_id": "c1"}
).encode()


async def upstream_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The trivial service: read the body, answer 201."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(RESPONSE))]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": RESPONSE})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


async def _worker(
    port: int,
    requests: int,
    token: str,
    latencies: list[float],
    interval: float = 0.0,
    offset: float = 0.0,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # Workers start staggered so that a paced load arrives evenly, not in bursts.
    next_at = time.perf_counter() + offset
    head = (
        f"POST /api/tickets/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(REQUEST)}\r\n\r\n"
    ).encode()
    for _ in range(requests):
        if interval:
            # Paced: each worker sends at most one request per interval (an offered load).
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        started = time.perf_counter()
        writer.write(head + REQUEST)
        response_head = await reader.readuntil(b"\r\n\r\n")
        if not response_head.startswith(b"HTTP/1.1 201"):
            raise RuntimeError(response_head.decode(errors="replace"))
        length = 0
        for line in response_head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
    writer.close()


async def _load(
    port: int, total: int, concurrency: int, token: str, rate: float
) -> dict[str, float]:
    await asyncio.gather(*(_worker(port, 20, token, []) for _ in range(concurrency)))  # warm up
    latencies: list[float] = []
    started = time.perf_counter()
    per_worker = total // concurrency
    interval = concurrency / rate if rate else 0.0
    await asyncio.gather(
        *(
            _worker(port, per_worker, token, latencies, interval, interval * i / concurrency)
            for i in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


def _uvicorn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", *args, "--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(command, env={**os.environ, **(env or {})})  # noqa: S603


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rate", type=float, default=0, help="offered requests/s in total; 0 = as fast as possible"
    )
    args = parser.parse_args()

    from helpdesk_common.auth import Principal, generate_keypair, sign_access_token

    private_key, public_key = generate_keypair()
    token = sign_access_token(
        Principal(
            user_id=uuid.UUID("5d7c0a7e-8a59-4a57-9d8e-0f3f2b1c4d5e"),
            role="requester",
            name="Bench",
        ),
        private_key=private_key,
        issuer="helpdesk-identity",
        audience="helpdesk",
        ttl=timedelta(hours=1),
    )
    upstream_port, gateway_port = _free_port(), _free_port()
    tools = str(Path(__file__).parent)
    upstream = _uvicorn("overhead:upstream_app", "--app-dir", tools, "--port", str(upstream_port))
    gateway = _uvicorn(
        "gateway.main:create_app",
        "--factory",
        "--port",
        str(gateway_port),
        env={
            "GATEWAY_TICKETS_URL": f"http://127.0.0.1:{upstream_port}",
            "GATEWAY_JWT_PUBLIC_KEY": public_key,
            "GATEWAY_RATE_LIMIT_PER_SECOND": "0",
            "GATEWAY_LOG_LEVEL": "WARNING",
        },
    )
    try:
        await _wait_listening(upstream_port)
        await _wait_listening(gateway_port)
        direct = await _load(upstream_port, args.requests, args.concurrency, token, args.rate)
        cpu_before = _cpu_seconds(gateway.pid)
        proxied = await _load(gateway_port, args.requests, args.concurrency, token, args.rate)
        cpu = _cpu_seconds(gateway.pid) - cpu_before
        # The warm-up requests ran inside the measured CPU window too.
        handled = proxied["requests"] + 20 * args.concurrency
        print(json.dumps({"direct": direct, "through_gateway": proxied}, indent=2))
        print(
            f"gateway CPU per request: {cpu / handled * 1e6:.0f} µs; "
            f"added median latency at concurrency {args.concurrency}: "
            f"{proxied['p50_ms'] - direct['p50_ms']:.2f} ms"
        )
    finally:
        for process in (gateway, upstream):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
