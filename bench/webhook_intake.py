"""Chat messages into tickets through the gateway: signed hook calls at concurrency 32.

    uv run python bench/webhook_intake.py [--messages 2000] [--concurrency 32]
    uv run python bench/webhook_intake.py --gateway http://127.0.0.1:8420 --admin-password ...

Starts the whole system (deploy/local/up.py) on shifted ports with its own database (or
uses a running one: --gateway and --admin-password), seeds a unit, makes a generic chat
channel through the admin API, then posts signed messages (X-Helpdesk-Timestamp,
X-Helpdesk-Signature: HMAC-SHA256 of "<timestamp>.<body>") to its public hook, without a
token, as a chat provider would:
1. new: each message a new conversation -> a new ticket (the tickets service's intake API);
2. replies: messages to those conversations -> a comment each on its ticket;
3. repeats: the new messages sent again (a provider's retries) -> nothing made, 200.
Each answer must be 200 with the expected outcome (anything else counts as an error). Prints
throughput, p50/p95/p99 per phase and CPU per process, and saves them under bench/results/.
Target: none set by the issue; see the README's table for what was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_ENV,
    Api,
    CpuMeter,
    Phase,
    login,
    reference_loop_seconds,
    run_closed_loop,
    save,
    seed,
    system_of,
    timed,
)

SECRET = "bench-chat-secret-0123456789abcdef"
ENV = {**BENCH_ENV, "INTEGRATIONS_LOG_LEVEL": "WARNING"}


def signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    return raw, {
        "Content-Type": "application/json",
        "X-Helpdesk-Timestamp": timestamp,
        "X-Helpdesk-Signature": f"sha256={digest.hexdigest()}",
    }


async def main(args: argparse.Namespace) -> None:
    async with system_of(args, env=ENV) as (gateway, admin_password, pid):
        connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            api = Api(gateway, session)
            seeded = await seed(api, admin_password)
            admin = await login(api, "admin", admin_password)
            channel = await api.ok(
                "POST",
                "/api/integrations/channels",
                token=admin,
                body={
                    "name": f"Bench chat {uuid.uuid4().hex[:6]}",
                    "provider": "generic",
                    "secret": SECRET,
                    "default_unit_id": seeded.unit_id,
                    "default_category_id": seeded.category_id,
                },
            )
            hook = gateway + channel["webhook_path"]
            run = uuid.uuid4().hex[:8]

            def message(kind: str, i: int) -> dict[str, Any]:
                return {
                    "message_id": f"{run}-{kind}-{i}",
                    "conversation_id": f"{run}-conv-{i}",
                    "sender": {
                        "id": f"visitor-{i}",
                        "name": f"Pengunjung {i}",
                        "email": f"pengunjung{i}@example.com",
                    },
                    "text": f"Aplikasi layanan {i % 7} tidak bisa dibuka\nSudah dicoba ulang.",
                }

            async def send(body: dict[str, Any], outcome: str, duplicate: bool) -> list[float]:
                raw, headers = signed(body)

                async def post() -> tuple[int, Any]:
                    async with session.post(hook, data=raw, headers=headers) as response:
                        return response.status, await response.json(content_type=None)

                seconds, (status, data) = await timed(post())
                result = (data or {}).get("results", [{}])[0] if status == 200 else {}
                if (status, result.get("outcome"), result.get("duplicate")) != (
                    200,
                    outcome,
                    duplicate,
                ):
                    raise RuntimeError(f"{status}: {json.dumps(data)[:200]}")
                return [seconds]

            warmup = Phase("warm-up")
            await run_closed_loop(
                warmup,
                [lambda i=i: send(message("warm", 10**7 + i), "ticket", False) for i in range(100)],
                concurrency=args.concurrency,
            )
            meter = CpuMeter(pid) if pid else None
            phases: dict[str, Any] = {}
            for name, kind, outcome, duplicate in (
                ("new", "new", "ticket", False),
                ("replies", "reply", "comment", False),
                ("repeats", "new", "ticket", True),
            ):
                phase = Phase(name)
                if meter:
                    meter.begin()
                await run_closed_loop(
                    phase,
                    [
                        lambda i=i, k=kind, o=outcome, d=duplicate: send(message(k, i), o, d)
                        for i in range(args.messages)
                    ],
                    concurrency=args.concurrency,
                )
                phases[name] = phase.summary()
                if meter:
                    phases[name]["cpu_percent"] = meter.end(phase.seconds)
            log = await api.ok(
                "GET", f"/api/integrations/channels/{channel['id']}/messages?limit=1", token=admin
            )
            result = {
                "reference_loop_seconds": reference_loop_seconds(),
                "messages": args.messages,
                "concurrency": args.concurrency,
                "gateway": gateway,
                "phases": phases,
                "newest_logged": log["items"][0]["outcome"] if log["items"] else None,
            }
    print(json.dumps(result, indent=2))
    print(f"saved to {save('webhook_intake', result)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--gateway", default="", help="a running system's gateway URL")
    parser.add_argument("--admin-password", default="", help="its admin's password")
    asyncio.run(main(parser.parse_args()))
