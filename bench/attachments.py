"""Attachments through the gateway: parallel uploads of large files, the malware scan of
all of them, parallel downloads, and the memory of the gateway and the attachments service.

    uv run --frozen python bench/attachments.py [--files 256] [--concurrency 32] [--size-mb 5]

Starts the whole system (deploy/local/up.py --port-offset 500, with SeaweedFS and clamd,
a database, queue names and a state directory under /tmp of its own), seeds a unit, a
requester and an agent through the API, creates enough tickets as the requester to hold
the files within the per-ticket limits (GET /api/attachments/policy; 8 files a ticket
at most), then, all on this machine:
1. uploads: ``--concurrency`` clients POST /api/attachments/tickets/{id}/attachments as the
   requester, multipart part ``file``: each file a zip stored without compression around
   ``--size-mb`` MiB of random bytes (every file different), so the content checks open
   and read all of it and find a harmless archive;
2. scan: waits until no file is ``pending`` (clamd with the local test signature streams
   every byte), timed from the first upload and from the last;
3. downloads: ``--concurrency`` clients GET each upload's ``content_url`` as the requester
   (who may download only scanned files), each body's SHA-256 checked against the
   upload's ``sha256``.
The resident memory (RSS) of the gateway and the attachments service (and of SeaweedFS
and clamd) is sampled every 100 ms in a thread of its own: before the run, the peak of each
phase and after. Prints a JSON summary, saved under bench/results/. MB = 10^6 bytes in
throughputs; the file size is in MiB, as the service's limits are.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import math
import os
import re
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_ENV,
    ROOT,
    Api,
    CpuMeter,
    percentiles,
    reference_loop_seconds,
    save,
    seed,
)
from reports_scale import code_version, log, service_errors

from helpdesk_testing import PG_ADMIN_DSN, local_system

PORT_OFFSET = 500
MIB = 1024 * 1024
FILES_PER_TICKET = 8
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SYSTEM_ENV = {
    **BENCH_ENV,
    "ATTACHMENTS_LOG_LEVEL": "WARNING",
    # helpdesk_testing.local_system makes the other services' queues expire but not the
    # attachments service's: the others declare its queues (with x-expires) too, and its
    # consumer would crash in a loop on PRECONDITION_FAILED, never ready.
    "ATTACHMENTS_QUEUE_EXPIRES_SECONDS": "120",
}
# The processes whose memory is watched, by what their command line contains.
WATCHED = {
    "gateway": "gateway.main",
    "attachments": "attachments.main",
    "s3": "weed",
    "clamd": "clamd",
}


# -- the files -------------------------------------------------------------------------------


@dataclass
class BenchFile:
    name: str
    data: bytes
    sha256: str


def make_file(index: int, size: int) -> BenchFile:
    """A zip of ``size`` bytes (give or take its framing), one entry of random bytes stored
    as is: accepted by content, ratio 1. The entry starts with a fixed text so its head is
    never taken for a script or a nested archive."""
    head = f"helpdesk attachments benchmark, file {index}\n".encode()
    payload = head + os.urandom(max(0, size - len(head) - 200))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"data-{index:05d}.bin", payload)
    data = buffer.getvalue()
    return BenchFile(f"lampiran-{index:05d}.zip", data, hashlib.sha256(data).hexdigest())


# -- memory ----------------------------------------------------------------------------------


class MemoryWatch:
    """RSS of the watched processes under the runner (each with its children: uvicorn
    workers), sampled every ``interval`` seconds in a thread, with a peak per phase."""

    def __init__(self, root_pid: int, interval: float = 0.1) -> None:
        self.interval = interval
        self.processes: dict[str, list[psutil.Process]] = {name: [] for name in WATCHED}
        for child in psutil.Process(root_pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                command = " ".join(child.cmdline())
                for name, needle in WATCHED.items():
                    if needle in command:
                        self.processes[name] += [child, *child.children(recursive=True)]
                        break
        missing = [n for n in ("gateway", "attachments") if not self.processes[n]]
        if missing:
            raise RuntimeError(f"no {', '.join(missing)} process under {root_pid}")
        self.pids = {name: [p.pid for p in procs] for name, procs in self.processes.items()}
        self.phase = "idle"
        self.peaks: dict[str, dict[str, int]] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sizes(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for name, procs in self.processes.items():
            total = 0
            for process in procs:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_info().rss
            sizes[name] = total
        return sizes

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            sizes = self.sizes()
            self.samples += 1
            peaks = self.peaks.setdefault(self.phase, {})
            for name, rss in sizes.items():
                peaks[name] = max(peaks.get(name, 0), rss)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, *phases: str) -> dict[str, float]:
        found: dict[str, int] = {}
        for phase in phases:
            for name, rss in self.peaks.get(phase, {}).items():
                found[name] = max(found.get(name, 0), rss)
        return mb(found)


class Meter(CpuMeter):
    """bench/common.py's CPU meter, knowing the attachments service and clamd too."""

    @staticmethod
    def _label(proc: psutil.Process) -> str:
        label = CpuMeter._label(proc)
        if label == "other":
            with contextlib.suppress(psutil.Error):
                command = " ".join(proc.cmdline())
                for name in ("attachments", "clamd", "reports"):
                    if f"{name}.main" in command or f"/{name} " in command:
                        return name
        return label


def logged_problems(output: list[str]) -> dict[str, int]:
    """Warnings and errors the gateway and the attachments service logged, by service,
    level and message, with how often (the runner keeps the system's last 2,000 lines)."""
    found: dict[str, int] = {}
    for line in output:
        service, _, text = ANSI.sub("", line).partition("|")
        service, text = service.strip(), text.strip()
        if service not in ("gateway", "attachments") or not text.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            entry = json.loads(text)
            if entry.get("level") in ("WARNING", "ERROR", "CRITICAL"):
                key = f"{service} {entry['level']} {entry.get('message', '')[:200]}"
                found[key] = found.get(key, 0) + 1
    return found


def mb(sizes: dict[str, int]) -> dict[str, float]:
    return {name: round(size / 1e6, 1) for name, size in sizes.items()}


# -- load ------------------------------------------------------------------------------------


@dataclass
class Transfers:
    name: str
    latencies: list[float] = field(default_factory=list)
    bytes: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "count": len(self.latencies),
            "errors": len(self.errors),
            "first_errors": self.errors[:5],
            "total_mb": round(self.bytes / 1e6, 1),
            "seconds": round(self.seconds, 2),
            "mb_per_s": round(self.bytes / self.seconds / 1e6, 1) if self.seconds else 0.0,
            "files_per_s": round(len(self.latencies) / self.seconds, 2) if self.seconds else 0.0,
            **percentiles(self.latencies),
        }


async def run_parallel(transfers: Transfers, jobs: list[Any], concurrency: int) -> None:
    """Each job is an async callable returning the bytes it moved; timed one by one."""
    queue = list(reversed(jobs))

    async def worker() -> None:
        while queue:
            job = queue.pop()
            started = time.perf_counter()
            try:
                moved = await job()
            except Exception as exc:
                transfers.errors.append(repr(exc)[:300])
                continue
            transfers.latencies.append(time.perf_counter() - started)
            transfers.bytes += moved

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    transfers.seconds = time.perf_counter() - started


async def upload(
    session: aiohttp.ClientSession, gateway: str, token: str, ticket_id: str, item: BenchFile
) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("file", item.data, filename=item.name, content_type="application/zip")
    async with session.post(
        f"{gateway}/api/attachments/tickets/{ticket_id}/attachments",
        data=form,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        body = await response.read()
        if response.status != 201:
            raise RuntimeError(f"upload {item.name} -> {response.status}: {body[:300]!r}")
        return json.loads(body)


async def download(
    session: aiohttp.ClientSession, gateway: str, token: str, url: str
) -> tuple[int, str]:
    """The body streamed and hashed: (bytes, SHA-256)."""
    digest = hashlib.sha256()
    size = 0
    async with session.get(gateway + url, headers={"Authorization": f"Bearer {token}"}) as response:
        if response.status != 200:
            raise RuntimeError(f"GET {url} -> {response.status}: {(await response.read())[:300]!r}")
        async for chunk in response.content.iter_chunked(256 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


async def wait_for_scans(
    db: asyncpg.Connection, ids: list[uuid.UUID], *, limit: float
) -> dict[str, Any]:
    """Poll the service's table until none of ``ids`` is pending; the verdicts and when the
    first and last were recorded."""
    started = time.perf_counter()
    while True:
        pending = await db.fetchval(
            "SELECT count(*) FROM attachments.attachments"
            " WHERE id = ANY($1::uuid[]) AND scan_status = 'pending'",
            ids,
        )
        if pending == 0 or time.perf_counter() - started > limit:
            break
        await asyncio.sleep(0.2)
    rows = await db.fetch(
        "SELECT scan_status, count(*) AS n, min(scanned_at) AS first, max(scanned_at) AS last,"
        " min(uploaded_at) AS first_upload, max(uploaded_at) AS last_upload"
        " FROM attachments.attachments WHERE id = ANY($1::uuid[]) GROUP BY scan_status",
        ids,
    )
    statuses = {row["scan_status"]: row["n"] for row in rows}
    if not rows:
        return {"statuses": statuses, "still_pending": 0}
    scanned = [row for row in rows if row["last"] is not None]
    first_upload = min(row["first_upload"] for row in rows)
    last_upload = max(row["last_upload"] for row in rows)
    result: dict[str, Any] = {"statuses": statuses, "still_pending": int(pending)}
    if scanned:
        first = min(row["first"] for row in scanned)
        last = max(row["last"] for row in scanned)
        done = sum(row["n"] for row in scanned)
        result |= {
            # Server clocks (the service's timestamps): from the first file stored to the
            # last verdict, and from the last file stored to it.
            "seconds_first_upload_to_all_scanned": round((last - first_upload).total_seconds(), 2),
            "seconds_last_upload_to_all_scanned": round((last - last_upload).total_seconds(), 2),
            "scan_span_seconds": round((last - first).total_seconds(), 2),
            # Negative when files were scanned while others were still being uploaded.
            "first_verdict_after_last_upload_seconds": round(
                (first - last_upload).total_seconds(), 2
            ),
            "verdicts_before_last_upload": int(
                await db.fetchval(
                    "SELECT count(*) FROM attachments.attachments"
                    " WHERE id = ANY($1::uuid[]) AND scanned_at < $2",
                    ids,
                    last_upload,
                )
            ),
            "scans_per_s": round(done / max((last - first).total_seconds(), 1e-3), 2),
        }
    return result


# -- the run ---------------------------------------------------------------------------------


async def create_tickets(api: Api, token: str, category_id: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        ticket = await api.ok(
            "POST",
            "/api/tickets/tickets",
            token=token,
            body={
                "title": f"Dokumen pendukung pengadaan {i + 1}",
                "description": "Berkas pendukung terlampir (arsip zip).",
                "category_id": category_id,
            },
        )
        ids.append(ticket["id"])
    return ids


async def main(args: argparse.Namespace) -> None:
    run_id = uuid.uuid4().hex[:8]
    database = f"helpdesk_sys_{run_id}"
    dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
    result: dict[str, Any] = {
        "code": code_version(),
        "reference_loop_seconds": reference_loop_seconds(),
        "files": args.files,
        "concurrency": args.concurrency,
        "size_mib": args.size_mb,
    }
    size = int(args.size_mb * MIB)
    log(f"making {args.files} files of {args.size_mb:g} MiB")
    files = [make_file(i, size) for i in range(args.files)]
    result["file_bytes"] = len(files[0].data)

    with tempfile.TemporaryDirectory(prefix="bench-attachments-", dir="/tmp") as state:
        async with local_system(
            root=ROOT,
            state_dir=Path(state),
            run_id=run_id,
            extra_env=SYSTEM_ENV,
            extra_args=["--port-offset", str(args.port_offset)],
        ) as system:
            result["startup_seconds"] = system.startup_seconds
            gateway = system.gateway_url
            memory = MemoryWatch(system.process.pid)
            meter = Meter(system.process.pid)
            result["pids"] = memory.pids
            db = await asyncpg.connect(dsn)
            connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
            timeout = aiohttp.ClientTimeout(total=600)
            try:
                async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                    api = Api(gateway, session)
                    seeded = await seed(api, system.admin_password)
                    requester = seeded.requester_token
                    policy = await api.ok("GET", "/api/attachments/policy", token=requester)
                    per_ticket = min(
                        FILES_PER_TICKET,
                        policy["max_files_per_ticket"],
                        policy["max_ticket_bytes"] // result["file_bytes"],
                    )
                    if per_ticket < 1 or result["file_bytes"] > policy["max_file_bytes"]:
                        raise SystemExit(f"{args.size_mb} MiB files do not fit the policy {policy}")
                    tickets = await create_tickets(
                        api, requester, seeded.category_id, math.ceil(args.files / per_ticket)
                    )
                    result["tickets"] = len(tickets)
                    result["files_per_ticket"] = per_ticket
                    result["policy"] = {
                        k: policy[k]
                        for k in ("max_file_bytes", "max_files_per_ticket", "max_ticket_bytes")
                    } | {"scan_enabled": policy["scan_enabled"]}
                    log(f"{len(tickets)} tickets, up to {per_ticket} files each")

                    # A warm-up upload (connections, libmagic, the first S3 write), not counted:
                    # to a ticket of its own so that the limits of the others stay whole.
                    (warm_ticket,) = await create_tickets(api, requester, seeded.category_id, 1)
                    await upload(session, gateway, requester, warm_ticket, make_file(99999, MIB))
                    await asyncio.sleep(2)  # its scan, so the run starts quiet

                    memory.start()
                    await asyncio.sleep(1)
                    result["rss_mb_before"] = mb(memory.sizes())
                    log(f"RSS before: {result['rss_mb_before']}")

                    uploaded: dict[int, dict[str, Any]] = {}
                    mismatches: list[str] = []

                    def upload_job(index: int) -> Any:
                        async def job() -> int:
                            item = files[index]
                            answer = await upload(
                                session, gateway, requester, tickets[index // per_ticket], item
                            )
                            uploaded[index] = answer
                            if answer["sha256"] != item.sha256 or answer["size"] != len(item.data):
                                mismatches.append(f"upload {item.name}: {answer['sha256']}")
                            return len(item.data)

                        return job

                    log(f"uploading {args.files} files, {args.concurrency} at once")
                    memory.phase = "upload"
                    uploads = Transfers("upload")
                    meter.begin()
                    await run_parallel(
                        uploads, [upload_job(i) for i in range(args.files)], args.concurrency
                    )
                    result["upload_cpu_percent"] = meter.end(uploads.seconds)
                    result["uploads"] = uploads.summary()
                    log(f"uploads: {json.dumps(result['uploads'])}")
                    result["upload_pending_at_answer"] = sum(
                        1 for a in uploaded.values() if a["scan_status"] == "pending"
                    )

                    log("waiting for every file to be scanned")
                    memory.phase = "scan"
                    ids = [uuid.UUID(a["id"]) for a in uploaded.values()]
                    scan_wait = time.perf_counter()
                    meter.begin()
                    result["scan"] = await wait_for_scans(db, ids, limit=args.scan_timeout)
                    waited = time.perf_counter() - scan_wait
                    result["scan"]["seconds_waited_after_uploads"] = round(waited, 2)
                    result["scan_cpu_percent"] = meter.end(waited)
                    log(f"scan: {json.dumps(result['scan'])}")
                    memory.phase = "idle"
                    # Every file as the requester sees it now (through the gateway).
                    statuses: dict[str, int] = {}
                    for answer in uploaded.values():
                        meta = await api.ok(
                            "GET", f"/api/attachments/attachments/{answer['id']}", token=requester
                        )
                        statuses[meta["scan_status"]] = statuses.get(meta["scan_status"], 0) + 1
                    result["scan"]["statuses_through_api"] = statuses
                    result["rss_mb_between"] = mb(memory.sizes())

                    def download_job(index: int) -> Any:
                        async def job() -> int:
                            answer = uploaded[index]
                            size, sha256 = await download(
                                session, gateway, requester, answer["content_url"]
                            )
                            if sha256 != answer["sha256"] or size != answer["size"]:
                                mismatches.append(f"download {answer['id']}: {size} {sha256}")
                            return size

                        return job

                    log(f"downloading {len(uploaded)} files, {args.concurrency} at once")
                    memory.phase = "download"
                    downloads = Transfers("download")
                    meter.begin()
                    await run_parallel(
                        downloads, [download_job(i) for i in sorted(uploaded)], args.concurrency
                    )
                    result["download_cpu_percent"] = meter.end(downloads.seconds)
                    memory.phase = "after"
                    result["downloads"] = downloads.summary()
                    log(f"downloads: {json.dumps(result['downloads'])}")
                    result["sha256_mismatches"] = len(mismatches)
                    result["first_mismatches"] = mismatches[:5]

                    await asyncio.sleep(2)
                    result["rss_mb_after"] = mb(memory.sizes())
                    memory.stop()
                    result["rss_mb_peak"] = {
                        "upload": memory.peak("upload"),
                        "scan": memory.peak("scan"),
                        "download": memory.peak("download"),
                        "run": memory.peak("upload", "scan", "download"),
                    }
                    result["rss_samples"] = memory.samples
                    result["service_errors"] = service_errors(system.output)
                    result["gateway_attachments_warnings"] = logged_problems(system.output)
                    result["reference_loop_seconds_after"] = reference_loop_seconds()
            finally:
                await db.close()
    print(json.dumps(result, indent=2), flush=True)
    print(f"saved to {save('attachments', result)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--size-mb", type=float, default=5, help="MiB per file")
    parser.add_argument("--port-offset", type=int, default=PORT_OFFSET)
    parser.add_argument(
        "--scan-timeout", type=float, default=900, help="seconds to wait for the scans"
    )
    asyncio.run(main(parser.parse_args()))
