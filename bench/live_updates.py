"""Time from a ticket's creation through the gateway until open pages hear of it.

    uv run python bench/live_updates.py [--streams 200] [--rate 20] [--seconds 20]

Starts the whole system (deploy/local/up.py), seeds a unit, a requester and an agent, opens
``--streams`` server-sent event streams (``GET /api/tickets/stream`` through the gateway, as
the web client does: each one a browser tab on a ticket list) as the agent, then creates
tickets as the requester at a fixed rate (open loop). Each stream notes when it heard of each
ticket (``event: ticket`` with ``ticket.created``).

Reports p50/p95/p99 from the create request to each stream hearing of the ticket (over
every stream and ticket), deliveries missing 5 s after the load, resyncs, and CPU per
process. Target (issue #11): a live update within 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_ENV,
    ROOT,
    Api,
    CpuMeter,
    Seed,
    create_at_rate,
    percentiles,
    reference_loop_seconds,
    save,
    seed,
)

from helpdesk_testing import eventually, local_system


class Listener:
    """One open stream: when it heard of each ticket (by id), and how often it resynced."""

    def __init__(self) -> None:
        self.heard: dict[str, float] = {}
        self.resyncs = 0
        self.ready = asyncio.Event()

    async def run(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with session.get(url, headers=headers, timeout=timeout) as response:
            response.raise_for_status()
            name, data = "message", ""
            async for raw in response.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    data = line.split(":", 1)[1].strip()
                elif line == "":
                    self._event(name, data)
                    name, data = "message", ""

    def _event(self, name: str, data: str) -> None:
        if name == "ready":
            self.ready.set()
        elif name == "resync":
            self.resyncs += 1
        elif name == "ticket":
            change = json.loads(data)
            if change["event"] == "ticket.created":
                self.heard.setdefault(change["id"], time.time())


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        async with local_system(
            root=ROOT, state_dir=Path(state), run_id=uuid.uuid4().hex[:8], extra_env=BENCH_ENV
        ) as system:
            connector = aiohttp.TCPConnector(limit=args.streams + 64)
            async with aiohttp.ClientSession(connector=connector) as session:
                api = Api(system.gateway_url, session)
                seeded = await seed(api, system.admin_password)
                listeners = [Listener() for _ in range(args.streams)]
                url = f"{system.gateway_url}/api/tickets/stream"
                tasks = [
                    asyncio.create_task(listener.run(session, url, seeded.agent_token))
                    for listener in listeners
                ]
                await asyncio.wait_for(
                    asyncio.gather(*(listener.ready.wait() for listener in listeners)), 60
                )
                try:
                    return await load(args, system.process.pid, api, seeded, listeners)
                finally:
                    for task in tasks:
                        task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                        await asyncio.gather(*tasks, return_exceptions=True)


async def load(
    args: argparse.Namespace, pid: int, api: Api, seeded: Seed, listeners: list[Listener]
) -> dict[str, Any]:
    meter = CpuMeter(pid)
    meter.begin()
    run = await create_at_rate(
        api,
        seeded,
        rate=args.rate,
        seconds=args.seconds,
        title=lambda i: f"Jaringan lantai {i % 7} putus",
        description="Tidak ada koneksi internet sejak pagi.",
    )
    cpu = meter.end(run.seconds)
    sent_at = {ticket["id"]: started for started, ticket in run.created}

    def all_heard() -> bool:
        return all(ticket in listener.heard for listener in listeners for ticket in sent_at)

    with contextlib.suppress(AssertionError):  # what is still missing is counted below
        await eventually(all_heard, timeout=5, interval=0.1)
    latencies = [
        listener.heard[ticket] - started
        for listener in listeners
        for ticket, started in sent_at.items()
        if ticket in listener.heard
    ]
    expected = len(listeners) * len(sent_at)
    return {
        "reference_loop_seconds": reference_loop_seconds(),
        "streams": len(listeners),
        "offered_rate_per_s": args.rate,
        "seconds": args.seconds,
        "tickets_created": len(sent_at),
        "create_failures": len(run.failures),
        "first_failures": run.failures[:3],
        "deliveries": len(latencies),
        "deliveries_missing_5s_after_load": expected - len(latencies),
        "resyncs": sum(listener.resyncs for listener in listeners),
        "create_to_stream_latency": percentiles(latencies),
        "cpu_percent_during_load": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    print(json.dumps(result, indent=2))
    print(f"saved to {save('live_updates', result)}")


if __name__ == "__main__":
    main()
