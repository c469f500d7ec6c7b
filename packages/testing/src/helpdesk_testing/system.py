"""The whole system started by ``deploy/local/up.py`` (the README's way), for end-to-end tests
and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from helpdesk_testing.env import PG_ADMIN_DSN


@dataclass
class LocalSystem:
    """A whole system started by ``deploy/local/up.py``, as seen from outside."""

    process: asyncio.subprocess.Process
    gateway_url: str
    admin_password: str
    mail_url: str
    s3_url: str | None
    startup_seconds: float
    output: list[str]
    # Where its processes' complete logs are (``logs/<process>.log``; ``output`` keeps only
    # the latest lines), and its database.
    state_dir: Path | None = None
    database: str | None = None
    # The local IMAP server's mailbox helpdesk@localhost ("host:port" and its password), when
    # Dovecot is installed and not turned off (--no-imap).
    imap_address: str | None = None
    imap_password: str | None = None
    # Each service's own base URL (its /metrics and /health/*), by name, from the banner.
    service_urls: dict[str, str] = field(default_factory=dict)


PORT_CONFLICT = re.compile(r"not available|address already in use|Errno 98", re.IGNORECASE)


@contextlib.asynccontextmanager
async def local_system(
    *,
    root: Path,
    state_dir: Path,
    run_id: str,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    timeout: float = 180,
    attempts: int = 3,
) -> AsyncIterator[LocalSystem]:
    """Start the README's system on shifted ports with its own database and queue names,
    yield once it prints that it is ready, then stop it (SIGINT) and drop its database.

    The port offset is drawn at random; a start that fails on a port already taken (another
    copy, or an ephemeral port of some client) is tried again on other ports."""
    database = f"helpdesk_sys_{run_id}"
    try:
        for attempt in range(1, attempts + 1):
            process = await _spawn_system(
                root, state_dir, run_id, database, extra_env or {}, extra_args or []
            )
            lines: list[str] = []
            try:
                await asyncio.wait_for(_read_until_ready(process, lines), timeout)
                break
            except AssertionError:
                await _stop_system(process)
                if attempt == attempts or not PORT_CONFLICT.search("".join(lines)):
                    raise
        system = _describe(process, lines)
        system.state_dir, system.database = state_dir, database
        # Keep draining its output so the pipe never fills and blocks the runner.
        drain = asyncio.create_task(_drain(process, lines))
        try:
            yield system
        finally:
            drain.cancel()
            await _stop_system(process)
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()


async def _spawn_system(
    root: Path,
    state_dir: Path,
    run_id: str,
    database: str,
    extra_env: dict[str, str],
    extra_args: list[str],
) -> asyncio.subprocess.Process:
    offset = random.randint(20000, 28000)  # noqa: S311 - spreading ports, not a secret
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(root / "deploy" / "local" / "up.py"),
        "--state-dir", str(state_dir),
        "--port-offset", str(offset),
        "--database", database,
        "--namespace", f"test.{run_id}.sys.",
        *extra_args,
        cwd=root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **_expiring_queues(), **_exact_counts(), **extra_env},
        start_new_session=True,
    )  # fmt: skip


def _exact_counts() -> dict[str, str]:
    """The ticket list's first page counts with time enough to finish on a loaded CI
    machine, so that pages show exact totals (a test of the deferred count sets its own)."""
    return {"TICKETS_FIRST_PAGE_BUDGET_MS": "10000"}


async def _stop_system(process: asyncio.subprocess.Process) -> None:
    # A start that failed may have ended the whole group already, before we reaped it.
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
    await asyncio.wait_for(process.wait(), timeout=60)


def _describe(process: asyncio.subprocess.Process, lines: list[str]) -> LocalSystem:
    text = "".join(lines)

    def find(pattern: str) -> str | None:
        match = re.search(pattern, text)
        return match.group(1) if match else None

    return LocalSystem(
        process=process,
        gateway_url=find(r"Web client and API : (\S+)/ ") or "",
        admin_password=find(r"Administrator\s+: admin / (\S+)") or "",
        mail_url=find(r"Mail catcher\s+: (\S+)/") or "",
        s3_url=find(r"S3 \(SeaweedFS\)\s+: (\S+)/"),
        startup_seconds=float(find(r"started in ([0-9.]+)s") or "nan"),
        output=lines,
        imap_address=find(r"IMAP mailbox\s+: (\S+)"),
        imap_password=find(r"IMAP mailbox\s+: \S+\s+user \S+ / (\S+)"),
        service_urls={
            name: url.removesuffix("/metrics")
            for name, url in re.findall(r"(\w+)=(\S+/metrics)", find(r"Metrics\s+: (.*)") or "")
        },
    )


def _expiring_queues() -> dict[str, str]:
    # The throw-away system's queues vanish once idle instead of piling up on the broker.
    return {
        f"{service}_QUEUE_EXPIRES_SECONDS": "120"
        for service in (
            "IDENTITY",
            "TICKETS",
            "NOTIFICATIONS",
            "REPORTS",
            "ATTACHMENTS",
            "INTEGRATIONS",
        )
    }


async def _read_until_ready(process: asyncio.subprocess.Process, lines: list[str]) -> None:
    assert process.stdout is not None
    while True:
        raw = await process.stdout.readline()
        if not raw:
            raise AssertionError("the system exited before it was ready:\n" + "".join(lines[-80:]))
        lines.append(raw.decode(errors="replace"))
        if "Press Ctrl-C to stop." in lines[-1]:
            return


async def _drain(process: asyncio.subprocess.Process, lines: list[str]) -> None:
    assert process.stdout is not None
    while raw := await process.stdout.readline():
        lines.append(raw.decode(errors="replace"))
        del lines[:-2000]
