"""Ticket throughput through the gateway: create at concurrency 32, then claim -> resolve.

    uv run python bench/tickets_flow.py [--tickets 5000] [--concurrency 32]

Starts the whole system (deploy/local/up.py) on shifted ports with its own database, seeds
a unit, a requester and an agent, then measures, all on this machine:
1. creates: POST /api/tickets/tickets as the requester;
2. workflow: per ticket, POST .../claim then POST .../resolve as the agent;
and checks that every event left the outbox. Prints throughput, p50/p95/p99, CPU per
process (100 % = one core) and the CPU milliseconds per created ticket (and per claim or
resolve) of each process and of the whole system: counted from the phase's start until the
system is idle again (the relay, the consumers and the mail sender finish a ticket's work
after its answer), less what the processes use when idle. Saves the figures under
bench/results/.
Target (issue #3): >= 500 creates/s with p99 < 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_ENV,
    ROOT,
    Api,
    CpuMeter,
    Phase,
    reference_loop_seconds,
    run_closed_loop,
    save,
    seed,
    timed,
)

from helpdesk_testing import PG_ADMIN_DSN, local_system


async def wait_for_empty_outbox(database: str, *, limit: float = 30.0) -> tuple[int, float]:
    """Poll the tickets outbox until every event is published; (backlog left, seconds)."""
    dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
    started = time.perf_counter()
    connection = await asyncpg.connect(dsn)
    try:
        while True:
            backlog = int(
                await connection.fetchval(
                    "SELECT count(*) FROM tickets.outbox WHERE published_at IS NULL"
                )
            )
            if backlog == 0 or time.perf_counter() - started > limit:
                return backlog, time.perf_counter() - started
            await asyncio.sleep(0.1)
    finally:
        await connection.close()


async def schema_sizes(database: str) -> dict[str, int]:
    """Bytes on disk per schema (tables, their indexes and TOAST): the sizing table's disk
    per ticket in docs/operations.md comes from these divided by the tickets made."""
    dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM ANALYZE")
        rows = await connection.fetch(
            "SELECT n.nspname, sum(pg_total_relation_size(c.oid))::bigint AS bytes"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'm')"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg_toast%' GROUP BY n.nspname ORDER BY 2 DESC"
        )
    finally:
        await connection.close()
    return {row["nspname"]: int(row["bytes"]) for row in rows}


async def main(args: argparse.Namespace) -> None:
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as state:
        async with local_system(
            root=ROOT,
            state_dir=Path(state),
            run_id=run_id,
            extra_env={
                **BENCH_ENV,
                "TICKETS_WORKERS": str(args.tickets_workers),
                "NOTIFICATIONS_WORKERS": str(args.notifications_workers),
            },
        ) as system:
            connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
            async with aiohttp.ClientSession(connector=connector) as session:
                api = Api(system.gateway_url, session)
                seeded = await seed(api, system.admin_password)
                meter = CpuMeter(system.process.pid)
                ticket_ids: list[str] = []

                async def create(i: int) -> list[float]:
                    seconds, data = await timed(
                        api.ok(
                            "POST",
                            "/api/tickets/tickets",
                            token=seeded.requester_token,
                            body={
                                "title": f"Printer lantai {i % 5} tidak bisa mencetak",
                                "description": "Printer di ruang rapat tidak merespons sejak pagi.",
                                "category_id": seeded.category_id,
                            },
                        )
                    )
                    ticket_ids.append(data["id"])
                    return [seconds]

                async def work(ticket_id: str) -> list[float]:
                    claimed, _ = await timed(
                        api.ok(
                            "POST",
                            f"/api/tickets/tickets/{ticket_id}/claim",
                            token=seeded.agent_token,
                        )
                    )
                    resolved, _ = await timed(
                        api.ok(
                            "POST",
                            f"/api/tickets/tickets/{ticket_id}/resolve",
                            token=seeded.agent_token,
                            body={"result_summary": "Driver printer dipasang ulang."},
                        )
                    )
                    return [claimed, resolved]

                idle = await meter.idle_rates()
                warmup = Phase("warm-up")
                await run_closed_loop(
                    warmup,
                    [lambda i=i: create(i) for i in range(200)],
                    concurrency=args.concurrency,
                )
                ticket_ids.clear()

                creates = Phase("create")
                meter.begin()
                await run_closed_loop(
                    creates,
                    [lambda i=i: create(i) for i in range(args.tickets)],
                    concurrency=args.concurrency,
                )
                create_cpu = meter.end(creates.seconds)
                # The create's work goes on after its answer (relay, consumers, mails): its
                # cost is counted until the system is idle again.
                create_settle = await meter.wait_until_idle(idle)
                create_cost = meter.milliseconds_per(args.tickets, idle=idle)

                workflow = Phase("claim+resolve")
                meter.begin()
                await run_closed_loop(
                    workflow,
                    [lambda t=t: work(t) for t in ticket_ids],
                    concurrency=args.concurrency,
                )
                workflow_cpu = meter.end(workflow.seconds)
                workflow_settle = await meter.wait_until_idle(idle)
                workflow_cost = meter.milliseconds_per(2 * len(ticket_ids), idle=idle)

                database = f"helpdesk_sys_{run_id}"
                backlog, drain_seconds = await wait_for_empty_outbox(database)
                sizes = await schema_sizes(database)
                made = args.tickets + 200  # with the warm-up's
                result = {
                    "reference_loop_seconds": reference_loop_seconds(),
                    "tickets": args.tickets,
                    "concurrency": args.concurrency,
                    "tickets_workers": args.tickets_workers,
                    "notifications_workers": args.notifications_workers,
                    "startup_seconds": system.startup_seconds,
                    "create": creates.summary(),
                    "create_cpu_percent": create_cpu,
                    "create_settle_seconds": round(create_settle, 2),
                    "create_cpu_ms_per_ticket": create_cost,
                    "workflow": workflow.summary(),
                    "workflow_cpu_percent": workflow_cpu,
                    "workflow_settle_seconds": round(workflow_settle, 2),
                    "workflow_cpu_ms_per_request": workflow_cost,
                    "outbox_backlog_after": backlog,
                    "outbox_drain_seconds": round(drain_seconds, 2),
                    "schema_bytes": sizes,
                    "bytes_per_ticket": round(sum(sizes.values()) / made),
                }
    print(json.dumps(result, indent=2))
    print(f"saved to {save('tickets_flow', result)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--tickets-workers", type=int, default=2, help="worker processes of the tickets service"
    )
    parser.add_argument(
        "--notifications-workers",
        type=int,
        default=1,
        help="worker processes (replicas) of the notifications service",
    )
    asyncio.run(main(parser.parse_args()))
