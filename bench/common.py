"""What the benchmarks share: a started system, seeded users, a load loop, CPU accounting."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from helpdesk_testing import local_system

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

# The gateway's per-client limit protects a real deployment; the benchmark is one client.
BENCH_ENV = {
    "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
    "GATEWAY_RATE_LIMIT_BURST": "1000000",
    "GATEWAY_LOG_LEVEL": "WARNING",
    "IDENTITY_LOG_LEVEL": "WARNING",
    "TICKETS_LOG_LEVEL": "WARNING",
    "NOTIFICATIONS_LOG_LEVEL": "WARNING",
}


@dataclass
class Seed:
    unit_id: str
    category_id: str
    requester_token: str
    agent_token: str
    requester_email: str


class Api:
    """A thin JSON client over aiohttp (cheaper per request than httpx on a loaded CPU)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    async def call(
        self, method: str, path: str, *, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, self.base_url + path, json=body, headers=headers
        ) as response:
            data = await response.json(content_type=None) if response.content_length != 0 else None
            return response.status, data

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, data = await self.call(method, path, **kwargs)
        if status >= 300:
            raise RuntimeError(f"{method} {path} -> {status}: {data}")
        return data


async def login(api: Api, username: str, password: str) -> str:
    data = await api.ok(
        "POST", "/api/identity/auth/login", body={"username": username, "password": password}
    )
    return data["access_token"]


async def seed(api: Api, admin_password: str) -> Seed:
    """A unit, a requester and an agent, known to the tickets service (via events)."""
    admin = await login(api, "admin", admin_password)
    tag = uuid.uuid4().hex[:6]
    unit = await api.ok(
        "POST",
        "/api/identity/units",
        token=admin,
        body={
            "code": f"BENCH{tag}".upper(),
            "name": f"Dinas Uji {tag}",
            "contact_email": f"kontak-{tag}@example.go.id",
        },
    )
    password = "bench-password-1"
    requester_email = f"pemohon-{tag}@example.go.id"
    await api.ok(
        "POST",
        "/api/identity/users",
        token=admin,
        body={
            "username": f"pemohon{tag}",
            "full_name": "Pemohon Uji",
            "email": requester_email,
            "role": "requester",
            "unit_id": unit["id"],
            "password": password,
        },
    )
    await api.ok(
        "POST",
        "/api/identity/users",
        token=admin,
        body={
            "username": f"petugas{tag}",
            "full_name": "Petugas Uji",
            "email": f"petugas-{tag}@example.go.id",
            "role": "agent",
            "password": password,
        },
    )
    requester = await login(api, f"pemohon{tag}", password)
    agent = await login(api, f"petugas{tag}", password)
    categories = await api.ok("GET", "/api/tickets/categories", token=agent)
    items = categories["items"] if isinstance(categories, dict) else categories
    category_id = items[0]["id"]
    # The tickets service learns units and users from identity's events.
    deadline = time.monotonic() + 30
    while True:
        status, data = await api.call(
            "POST",
            "/api/tickets/tickets",
            token=requester,
            body={
                "title": "Pemanasan",
                "description": "tiket pemanasan",
                "category_id": category_id,
            },
        )
        if status == 201:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"tickets service never accepted the seeded unit: {status} {data}")
        await asyncio.sleep(0.2)
    return Seed(unit["id"], category_id, requester, agent, requester_email)


@dataclass
class OpenLoop:
    """What an open-loop run of creates gave: each created ticket with the wall-clock time
    its request started, the failures, and how long offering the load took."""

    created: list[tuple[float, dict[str, Any]]]
    failures: list[str]
    seconds: float


async def create_at_rate(
    api: Api,
    seeded: Seed,
    *,
    rate: float,
    seconds: float,
    title: Callable[[int], str],
    description: str,
) -> OpenLoop:
    """Tickets created as the requester at a fixed rate, each request started on schedule
    whatever the answers before it (open loop: a slow answer does not slow the offered
    load). Times are wall-clock (``time.time()``), comparable with another process's."""
    created: list[tuple[float, dict[str, Any]]] = []
    failures: list[str] = []

    async def create(i: int) -> None:
        started = time.time()
        body = {"title": title(i), "description": description, "category_id": seeded.category_id}
        status, data = await api.call(
            "POST", "/api/tickets/tickets", token=seeded.requester_token, body=body
        )
        if status == 201:
            created.append((started, data))
        else:
            failures.append(f"{status}: {str(data)[:200]}")

    total = int(rate * seconds)
    began = time.perf_counter()
    tasks = []
    for i in range(total):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(create(i)))
    await asyncio.gather(*tasks)
    return OpenLoop(created, failures, time.perf_counter() - began)


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies given in seconds, in milliseconds."""
    ordered = sorted(seconds)

    def at(p: float) -> float:
        if not ordered:
            return float("nan")
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

    return {"p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0)}


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = self.latencies
        spread = percentiles(lat)
        return {
            "phase": self.name,
            "requests": len(lat),
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
            "seconds": round(self.seconds, 2),
            "throughput_per_s": round(len(lat) / self.seconds, 1) if self.seconds else 0,
            "p50_ms": spread["p50_ms"],
            "p95_ms": spread["p95_ms"],
            "p99_ms": spread["p99_ms"],
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else float("nan"),
        }


async def run_closed_loop(
    phase: Phase, jobs: list[Callable[[], Awaitable[list[float]]]], *, concurrency: int
) -> None:
    """Run ``jobs`` with ``concurrency`` workers; each job returns its request latencies."""
    queue: asyncio.Queue[Callable[[], Awaitable[list[float]]]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                phase.latencies.extend(await job())
            except Exception as exc:
                phase.errors.append(repr(exc)[:300])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.seconds = time.perf_counter() - started


async def timed(coro: Awaitable[Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await coro
    return time.perf_counter() - started, result


class CpuMeter:
    """CPU seconds per process group: the system's processes, PostgreSQL, RabbitMQ, us."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.start: dict[str, float] = {}
        self.started_at = time.perf_counter()

    def _sample(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        root = psutil.Process(self.root_pid)
        mine = psutil.Process()
        procs = [(self._label(p), p) for p in root.children(recursive=True)]
        # A worker process (uvicorn --workers, multiprocessing spawn) has a command line of
        # its own: it counts for the nearest ancestor that names a service.
        label_of = {proc.pid: label for label, proc in procs}
        for n, (label, proc) in enumerate(procs):
            ancestor = proc
            while label == "other":
                try:
                    ancestor = ancestor.parent()
                except psutil.Error:
                    break
                if ancestor is None or ancestor.pid not in label_of:
                    break
                label = label_of[ancestor.pid]
            procs[n] = (label, proc)
        for proc in psutil.process_iter(["name", "cmdline"]):
            name = proc.info["name"] or ""
            if name.startswith("postgres"):
                procs.append(("postgresql", proc))
            elif name == "beam.smp":
                procs.append(("rabbitmq", proc))
        procs.append(("load generator", mine))
        for label, proc in procs:
            try:
                times = proc.cpu_times()
                totals[label] = totals.get(label, 0.0) + times.user + times.system
            except psutil.Error:
                continue
        return totals

    @staticmethod
    def _label(proc: psutil.Process) -> str:
        try:
            cmd = " ".join(proc.cmdline())
        except psutil.Error:
            return "other"
        for name in (
            "identity",
            "tickets",
            "notifications",
            "gateway",
            "mailcatcher",
            "integrations",
            "reports",
            "attachments",
        ):
            if f"{name}.main" in cmd or f"{name}.py" in cmd:
                return name
        return "s3" if "weed" in cmd else "other"

    def begin(self) -> None:
        self.start = self._sample()
        self.started_at = time.perf_counter()
        self.start_steal = _steal_seconds()

    def end(self, seconds: float) -> dict[str, float]:
        now = self._sample()
        used = {
            label: round(100 * (now[label] - self.start.get(label, 0.0)) / seconds, 1)
            for label in sorted(now)
            if now[label] - self.start.get(label, 0.0) > 0.01
        }
        # CPU the hypervisor gave to other guests: on a shared VM, the figures of two runs
        # compare only when this (and reference_loop_seconds) are alike.
        used["(hypervisor steal)"] = round(100 * (_steal_seconds() - self.start_steal) / seconds, 1)
        return used

    async def idle_rates(self, seconds: float = 2.0) -> dict[str, float]:
        """CPU seconds per second of each label while no load is offered (timers, polls)."""
        before = self._sample()
        await asyncio.sleep(seconds)
        after = self._sample()
        return {
            label: max(0.0, (after[label] - before.get(label, 0.0)) / seconds) for label in after
        }

    async def wait_until_idle(
        self, idle: dict[str, float], *, limit: float = 120.0, window: float = 0.5
    ) -> float:
        """Wait until the system's processes are back to their idle CPU (what a load set off
        in the consumers, the relays and the mail sender is done); returns the seconds it
        took (``limit`` at most)."""
        started = time.perf_counter()
        baseline = sum(rate for label, rate in idle.items() if label != "load generator")
        while time.perf_counter() - started < limit:
            before = self._sample()
            await asyncio.sleep(window)
            after = self._sample()
            busy = sum(
                after[label] - before.get(label, 0.0)
                for label in after
                if label != "load generator"
            )
            if busy / window < baseline + 0.05:
                break
        return time.perf_counter() - started

    def milliseconds_per(self, count: int, *, idle: dict[str, float]) -> dict[str, float]:
        """CPU milliseconds per unit of work (a created ticket, a request) of each label since
        :meth:`begin`, less the idle rate, and their sum over the system's processes (all
        but the load generator) as ``"system"``."""
        now = self._sample()
        elapsed = time.perf_counter() - self.started_at
        costs = {}
        for label in sorted(now):
            used = now[label] - self.start.get(label, 0.0) - idle.get(label, 0.0) * elapsed
            costs[label] = max(0.0, used) * 1000 / count
        per = {label: round(ms, 3) for label, ms in costs.items() if ms >= 0.001}
        system = (ms for label, ms in costs.items() if label != "load generator")
        per["system"] = round(sum(system), 2)
        return per


def _steal_seconds() -> float:
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0.0
    # cpu user nice system idle iowait irq softirq steal ...
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


@contextlib.contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU for as long as the block runs: the system
    under test gets what is left of the cores, as on a VM whose host is busy."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def reference_loop_seconds() -> float:
    """Seconds for a fixed pure-Python loop: how fast this machine's CPU is right now."""
    started = time.perf_counter()
    sum(i * i for i in range(10**7))
    return round(time.perf_counter() - started, 3)


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    return path


@contextlib.asynccontextmanager
async def system_of(
    args: argparse.Namespace, *, env: dict[str, str]
) -> AsyncIterator[tuple[str, str, int | None]]:
    """(gateway URL, admin password, the runner's pid for CPU figures or None): the running
    system named by ``--gateway`` and ``--admin-password``, or a whole one started with
    ``env`` for the benchmark and stopped after it."""
    if args.gateway:
        yield args.gateway.rstrip("/"), args.admin_password, None
        return
    with tempfile.TemporaryDirectory() as state:
        async with local_system(
            root=ROOT, state_dir=Path(state), run_id=uuid.uuid4().hex[:8], extra_env=env
        ) as system:
            yield system.gateway_url, system.admin_password, system.process.pid
