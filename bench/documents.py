"""Documents at scale: the million-row ticket CSV, berita acara PDFs per second, a year's
report PDF from a million-ticket read model.

    uv run --frozen python bench/documents.py [--tickets 1000000]

Starts the whole system (deploy/local/up.py --port-offset 400 --no-s3, with a database, queue
names and state directory of its own) and builds the world as bench/reports_scale.py does
(people through identity's API, N tickets over two years with COPY into the tickets
service's table, the reports read model rebuilt through POST /api/reports/rebuild), then:
1. CSV: GET /api/tickets/tickets/export.csv through the gateway as the administrator, every
   ticket, the default columns and then every column: time to the first byte, total, rows,
   MB/s, and the tickets service's resident memory sampled during the download;
2. berita acara: tickets created, claimed, replied to and resolved through the API, then
   their berita acara PDFs downloaded one at a time and four at once: PDFs/s, p50/p95;
3. reports over the last 365 days as the leader: full.pdf, the other PDFs and the streamed
   completed.csv: seconds, bytes, pages.
Prints a JSON summary, saved under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import random
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil
from pypdf import PdfReader

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Api, login, percentiles, reference_loop_seconds, save
from reports_scale import (
    SYSTEM_ENV,
    Meter,
    TicketFactory,
    build_world,
    log,
    rebuild,
    seed_tickets,
)

from helpdesk_testing import PG_ADMIN_DSN, local_system

PORT_OFFSET = 400


class ServiceMemory:
    """The resident memory of a service's processes under the local runner: the process
    whose command line names ``<module>.main`` and its uvicorn workers (the tickets service
    runs two, and either may serve the download), each sampled as often as asked."""

    def __init__(self, root_pid: int, module: str) -> None:
        self.processes: list[psutil.Process] = []
        for child in psutil.Process(root_pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if f"{module}.main" in " ".join(child.cmdline()):
                    self.processes += [child, *child.children(recursive=True)]
        if not self.processes:
            raise RuntimeError(f"no {module} process under {root_pid}")

    def sizes(self) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for process in self.processes:
            with contextlib.suppress(psutil.Error):
                sizes[process.pid] = process.memory_info().rss
        return sizes


async def download(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    *,
    watch: ServiceMemory | None = None,
) -> dict[str, Any]:
    """Stream one download to nowhere: first byte, total, bytes, lines and, when ``watch``
    is given, that process's peak resident memory while it ran."""
    before = watch.sizes() if watch else {}
    peak = dict(before)
    started = time.perf_counter()
    first_byte: float | None = None
    size = lines = 0
    head = b""
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        if response.status != 200:
            raise RuntimeError(f"GET {url} -> {response.status}: {await response.text()}")
        async for chunk in response.content.iter_chunked(256 * 1024):
            if first_byte is None:
                first_byte = time.perf_counter() - started
            if len(head) < 4096:
                head += chunk[:4096]
            size += len(chunk)
            lines += chunk.count(b"\n")
            if watch and lines % 50 < 5:
                for pid, rss in watch.sizes().items():
                    peak[pid] = max(peak.get(pid, 0), rss)
    total = time.perf_counter() - started
    return {
        "first_byte_seconds": round(first_byte or total, 3),
        "total_seconds": round(total, 2),
        "bytes": size,
        "rows": max(0, lines - 1),
        "mb_per_s": round(size / total / 1e6, 1),
        # Per process of the service: resident MB before the download and at its peak.
        "rss_mb_before_peak": {
            str(pid): [round(before.get(pid, 0) / 1e6), round(rss / 1e6)]
            for pid, rss in peak.items()
        },
        "head": head[:300].decode("utf-8", "replace"),
    }


async def fetch_bytes(session: aiohttp.ClientSession, url: str, token: str) -> bytes:
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {url} -> {response.status}: {body[:300]!r}")
        return body


async def bench_agent(api: Api, db: asyncpg.Connection, admin: str) -> str:
    """An agent of the benchmark's own, known to the tickets service; their token."""
    username, password = f"agen-dokumen-{uuid.uuid4().hex[:6]}", "bench-password-1"
    agent = await api.ok(
        "POST",
        "/api/identity/users",
        token=admin,
        body={
            "username": username,
            "full_name": "Rina Petugas Dokumen",
            "email": f"{username}@example.go.id",
            "role": "agent",
            "password": password,
        },
    )
    for _ in range(240):
        if await db.fetchval("SELECT 1 FROM tickets.users WHERE id = $1", uuid.UUID(agent["id"])):
            return await login(api, username, password)
        await asyncio.sleep(0.5)
    raise RuntimeError("the tickets service never learnt of the benchmark's agent")


async def resolved_tickets(api: Api, world: Any, agent: str, count: int) -> list[str]:
    """Tickets through the API with a real timeline: created by an agent for a unit,
    claimed, replied to, an internal note, resolved."""
    ids: list[str] = []
    unit = world.units[0]
    for i in range(count):
        ticket = await api.ok(
            "POST",
            "/api/tickets/tickets",
            token=agent,
            body={
                "title": f"Jaringan internet putus di ruang rapat lantai {i % 4 + 1}",
                "description": "Sejak pagi koneksi di ruang rapat terputus; mohon dicek.",
                "unit_id": str(unit.id),
                "category_id": str(world.categories[0].id),
                "requester_id": str(unit.requester_id),
                "contact_name": "Ibu Sri Wahyuni",
                "contact_phone": "0812-3456-7890",
            },
        )
        path = f"/api/tickets/tickets/{ticket['id']}"
        await api.ok("POST", f"{path}/claim", token=agent, body={})
        for body, internal in (
            ("Petugas menuju lokasi untuk memeriksa perangkat.", False),
            ("Catatan internal: switch lantai 2 perlu diganti.", True),
        ):
            await api.ok(
                "POST", f"{path}/comments", token=agent, body={"body": body, "internal": internal}
            )
        await api.ok(
            "POST",
            f"{path}/resolve",
            token=agent,
            body={"result_summary": "Kabel patch diganti dan koneksi normal kembali."},
        )
        ids.append(ticket["id"])
    return ids


async def berita_acara(
    session: aiohttp.ClientSession, gateway: str, token: str, ids: list[str], *, rounds: int
) -> dict[str, Any]:
    urls = [f"{gateway}/api/tickets/tickets/{i}/documents/berita-acara.pdf" for i in ids]
    sample = await fetch_bytes(session, urls[0], token)
    text = PdfReader(io.BytesIO(sample)).pages[0].extract_text()
    result: dict[str, Any] = {"bytes": len(sample), "has_summary": "Kabel patch" in text}

    async def worker(queue: list[str], times: list[float]) -> None:
        while queue:
            url = queue.pop()
            started = time.perf_counter()
            await fetch_bytes(session, url, token)
            times.append(time.perf_counter() - started)

    for concurrency in (1, 4):
        times: list[float] = []
        queue = [urls[i % len(urls)] for i in range(rounds)]
        started = time.perf_counter()
        await asyncio.gather(*(worker(queue, times) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        result[f"concurrency_{concurrency}"] = {
            "pdfs": rounds,
            "pdfs_per_s": round(rounds / elapsed, 1),
            **percentiles(times),
        }
    return result


async def report_documents(
    session: aiohttp.ClientSession, gateway: str, token: str, today: date
) -> dict[str, Any]:
    first = today - timedelta(days=364)
    query = f"from={first.isoformat()}&to={today.isoformat()}"
    result: dict[str, Any] = {"period": query}
    for name in (
        "full.pdf",
        "summary.pdf",
        "trend.pdf?group_by=month",
        "breakdown.pdf?by=unit",
        "breakdown.pdf?by=agent",
        "completed.pdf",
    ):
        path, _, extra = name.partition("?")
        url = f"{gateway}/api/reports/export/{path}?{query}" + (f"&{extra}" if extra else "")
        started = time.perf_counter()
        body = await fetch_bytes(session, url, token)
        seconds = time.perf_counter() - started
        result[name] = {
            "seconds": round(seconds, 2),
            "bytes": len(body),
            "pages": len(PdfReader(io.BytesIO(body)).pages),
        }
        log(f"{name}: {json.dumps(result[name])}")
    url = f"{gateway}/api/reports/export/completed.csv?{query}"
    csv = await download(session, url, token)
    csv.pop("head")
    result["completed.csv"] = csv
    return result


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    run_id = uuid.uuid4().hex[:8]
    database = f"helpdesk_sys_{run_id}"
    dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
    result: dict[str, Any] = {
        "reference_loop_seconds": reference_loop_seconds(),
        "tickets": args.tickets,
    }
    with tempfile.TemporaryDirectory() as state:
        async with local_system(
            root=ROOT,
            state_dir=Path(state),
            run_id=run_id,
            extra_env=SYSTEM_ENV,
            extra_args=["--port-offset", str(args.port_offset), "--no-s3"],
        ) as system:
            gateway = system.gateway_url
            timeout = aiohttp.ClientTimeout(total=3600)
            db = await asyncpg.connect(dsn)
            try:
                async with aiohttp.ClientSession(timeout=timeout) as session:
                    api = Api(gateway, session)
                    world = await build_world(api, db, system.admin_password)
                    admin, leader = world.admin_token, world.leader_token
                    log(f"seeding {args.tickets:,} tickets with COPY")
                    factory = TicketFactory(world, total=args.tickets, rng=rng)
                    result["seed"] = await seed_tickets(db, factory, total=args.tickets)
                    log("creating and resolving tickets through the API")
                    agent = await bench_agent(api, db, admin)
                    ids = await resolved_tickets(api, world, agent, args.berita_acara_tickets)
                    log("rebuilding the read model")
                    meter = Meter(system.process.pid)
                    rebuilt = await rebuild(api, world, meter, total=args.tickets)
                    result["rebuild_seconds"] = rebuilt.get("seconds")

                    tickets_memory = ServiceMemory(system.process.pid, "tickets")
                    export = f"{gateway}/api/tickets/tickets/export.csv"
                    columns = await api.ok("GET", "/api/tickets/exports/columns", token=admin)
                    every = ",".join(column["key"] for column in columns)
                    for label, url in (
                        ("default_columns", export),
                        ("every_column", f"{export}?columns={every}"),
                    ):
                        log(f"ticket CSV, {label}")
                        result[f"tickets_csv_{label}"] = await download(
                            session, url, admin, watch=tickets_memory
                        )
                        log(json.dumps(result[f"tickets_csv_{label}"]))

                    log("berita acara")
                    result["berita_acara"] = await berita_acara(
                        session, gateway, admin, ids, rounds=args.pdfs
                    )
                    log(json.dumps(result["berita_acara"]))

                    log("report documents over a year")
                    result["reports_year"] = await report_documents(
                        session, gateway, leader, world.today
                    )
                    result["reference_loop_seconds_after"] = reference_loop_seconds()
            finally:
                await db.close()
    print(json.dumps(result, indent=2), flush=True)
    print(f"saved to {save('documents', result)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--berita-acara-tickets", type=int, default=20)
    parser.add_argument("--pdfs", type=int, default=200, help="berita acara downloads per run")
    parser.add_argument("--port-offset", type=int, default=PORT_OFFSET)
    parser.add_argument("--seed", type=int, default=20261204)
    asyncio.run(main(parser.parse_args()))
