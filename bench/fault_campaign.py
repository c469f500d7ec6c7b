"""A fault campaign: tickets created at full speed while the backbone is broken on purpose.

    uv run python bench/fault_campaign.py [--seconds 90] [--clients 16]

Starts everything it needs on ports shifted by ``--port-offset`` (600) and stops it at the
end, also on Ctrl-C or a failure: a PostgreSQL cluster of its own (initdb into a temporary
directory) and a RabbitMQ node of its own, so that stopping them disturbs nobody else's;
a real SMTP server in a process of its own (the aiosmtpd sink of notification_latency.py)
whose every received mail is written to a file; then the whole system with
deploy/local/up.py (``--control-socket``: restarts of one service).

Seeds units (each with a contact address and a requester) and agents, checks with one
ticket per requester that each new ticket's mails and in-app notifications are the expected
ones, then N clients create tickets through the gateway at full speed for D seconds, each
create with a fresh Idempotency-Key and a unique marker in its title. On a 5xx, a 429 or a
connection error a client sends the same request with the same key again (with back-off), as
a well-behaved client does. Meanwhile, on a timeline: RabbitMQ stopped for 8 s, PostgreSQL
restarted (``pg_ctl restart -m fast``), a tickets worker SIGKILLed, the notifications
service and the gateway restarted.

It then waits until the system has converged (every ticket's mails at the SMTP server and
in-app rows written, nothing left in the outbox or the mail queue) and counts per marker:
ticket rows, mails per recipient at the SMTP server, in-app rows per agent. It prints what
was lost (a 2xx seen but no row, a mail or an in-app notification missing), what was doubled
(two rows for one marker, two mails for one ticket and address, two in-app rows), every
answer that was not a 2xx by status and by fault window, and the time to converge. Exit
status 1 on any loss or double. Target (issue 12): 0 lost, 0 doubled, 0 x 500.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_ENV, ROOT, Api, login, reference_loop_seconds, save

from helpdesk_testing import free_port

TITLE = "Gangguan layanan kampanye"  # + the marker
FAULTS = ("rabbitmq", "postgresql", "tickets-worker", "notifications", "gateway")
# Where each fault falls by default, as a share of the load's duration.
DEFAULT_TIMELINE = (0.1, 0.3, 0.45, 0.6, 0.75)
# A failed answer this long after a fault recovered still counts for that fault.
FAULT_GRACE_SECONDS = 5.0


# -- the infrastructure of its own ------------------------------------------------------


def as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as ``postgres``."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


async def run(command: list[str], *, env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} -> {process.returncode}: {output.decode()}")
    return output.decode()


class Postgres:
    """A throw-away cluster on its own port (trust auth), restartable as a fault."""

    def __init__(self, port: int, log_dir: Path) -> None:
        self.port = port
        self.log_dir = log_dir
        self.directory = Path(tempfile.mkdtemp(prefix="fault-campaign-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgresql.log"
        # The newest installed major version (Debian's layout: /usr/lib/postgresql/15/bin).
        self.bin = max(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda path: float(path.parent.name),
        )

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *words: str) -> list[str]:
        return as_postgres_user(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", *words]
        )

    async def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        await run(
            as_postgres_user(
                [
                    *(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust"),
                    *("-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"),
                ]
            )
        )
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.directory),
            "max_connections": "300",
            "shared_buffers": "256MB",
            "log_min_messages": "warning",
            # fsync and synchronous_commit stay on: a restart must not lose a committed ticket.
        }
        flags = " ".join(f"-c {name}={value}" for name, value in options.items())
        await run(self._ctl("-o", f"-p {self.port} {flags}", "start"))

    async def restart(self) -> None:
        await run(self._ctl("-m", "fast", "restart"))

    async def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            await run(self._ctl("-m", "fast", "stop"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.log.exists():
            shutil.copy(self.log, self.log_dir / "postgresql.log")
        shutil.rmtree(self.directory, ignore_errors=True)


RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


class RabbitNode:
    """A RabbitMQ node of its own (own name, ports, data, config, no plugins)."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.node = f"campaign-{port}@localhost"
        self.process: asyncio.subprocess.Process | None = None
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{port}\n")
        # Not the machine's rabbitmq-env.conf, which names the shared node.
        (directory / "rabbitmq-env.conf").write_text("ERL_EPMD_ADDRESS=127.0.0.1\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def env(self) -> dict[str, str]:
        home = str(self.directory)  # the Erlang cookie shared by server and rabbitmqctl
        return {
            "HOME": home,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 20000),
            "RABBITMQ_CONFIG_FILE": f"{home}/rabbitmq.conf",
            "RABBITMQ_CONF_ENV_FILE": f"{home}/rabbitmq-env.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{home}/enabled_plugins",
            "RABBITMQ_MNESIA_BASE": f"{home}/mnesia",
            "RABBITMQ_LOG_BASE": f"{home}/log",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    async def start(self, timeout: float = 90) -> None:
        with (self.directory / "server.log").open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(RABBITMQ_BIN / "rabbitmq-server"),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:  # await_startup refuses at once while the node is not there yet
            with contextlib.suppress(RuntimeError):
                await run(self._ctl("await_startup"), env=self.env)
                return
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {self.node} did not start: see {self.directory}")
            await asyncio.sleep(0.5)

    def _ctl(self, *words: str) -> list[str]:
        return [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, *words]

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        try:
            await run(self._ctl("stop"), env=self.env)
            await asyncio.wait_for(self.process.wait(), timeout=30)
        except (RuntimeError, TimeoutError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()


class SmtpSink:
    """A real SMTP server in its own process (notification_latency.py's aiosmtpd sink):
    every mail it accepts becomes a line ``<time> <ticket number> <recipients>`` in a file,
    so none is dropped however many arrive."""

    def __init__(self, port: int, path: Path) -> None:
        self.port = port
        self.path = path
        self.process: asyncio.subprocess.Process | None = None
        self._offset = 0
        self.mails: collections.Counter[tuple[str, str]] = collections.Counter()
        self.unnumbered = 0
        # When the last mail for each (ticket number, address) arrived (wall clock).
        self.arrived: dict[tuple[str, str], float] = {}

    async def start(self) -> None:
        with self.path.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "bench" / "notification_latency.py"),
                "--serve-smtp",
                str(self.port),
                stdout=out,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not self.path.read_text().startswith("ready"):
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("the SMTP sink did not start")
            await asyncio.sleep(0.1)
        self._offset = len("ready\n")

    def read(self) -> None:
        """Count the mails written since the last call, per (ticket number, address)."""
        with self.path.open("rb") as source:
            source.seek(self._offset)
            chunk = source.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            arrived, number, recipients = line.split(" ", 2)
            for recipient in recipients.split(","):
                if number == "-":
                    self.unnumbered += 1
                else:
                    self.mails[(number, recipient.lower())] += 1
                    self.arrived[(number, recipient.lower())] = float(arrived)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


class System:
    """The whole system started by deploy/local/up.py, with its control socket."""

    def __init__(self, args: argparse.Namespace, pg: Postgres, rabbit: RabbitNode, smtp: int):
        self.state = args.state_dir
        self.control = self.state / "control.sock"
        self.output = self.state / "up.log"
        self.command = [
            sys.executable,
            str(ROOT / "deploy" / "local" / "up.py"),
            "--state-dir", str(self.state),
            "--port-offset", str(args.port_offset),
            "--database", "helpdesk",
            "--namespace", "campaign.",
            "--pg-dsn", pg.dsn,
            "--amqp-url", rabbit.url,
            "--smtp", f"127.0.0.1:{smtp}",
            "--control-socket", str(self.control),
            "--no-s3", "--no-scan",
        ]  # fmt: skip
        self.gateway_url = f"http://127.0.0.1:{8000 + args.port_offset}"
        self.process: asyncio.subprocess.Process | None = None
        self.admin_password = ""

    async def start(self, timeout: float = 180) -> None:
        env = {
            **os.environ,
            **BENCH_ENV,
            # The run, its convergence and the checks outlast the default 15 minutes.
            "IDENTITY_ACCESS_TOKEN_TTL_SECONDS": "7200",
        }
        with self.output.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.command,
                cwd=ROOT,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while "Press Ctrl-C to stop." not in self.output.read_text(errors="replace"):
            if self.process.returncode is not None or time.monotonic() > deadline:
                tail = self.output.read_text(errors="replace")[-4000:]
                raise RuntimeError(f"the system did not start:\n{tail}")
            await asyncio.sleep(0.5)
        self.admin_password = (self.state / "admin-password").read_text().strip()

    async def command_line(self, line: str) -> str:
        reader, writer = await asyncio.open_unix_connection(str(self.control))
        try:
            writer.write(line.encode() + b"\n")
            await writer.drain()
            return (await reader.readline()).decode().strip()
        finally:
            writer.close()

    async def restart(self, name: str) -> None:
        answer = await self.command_line(f"restart {name}")
        if not answer.startswith("ok"):
            raise RuntimeError(f"restart {name}: {answer}")

    async def pid(self, name: str) -> int:
        return int(json.loads(await self.command_line("pids"))[name])

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=60)
        except TimeoutError:
            os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()


# -- the people -------------------------------------------------------------------------


@dataclass
class Requester:
    token: str
    email: str
    unit_contact: str


@dataclass
class World:
    category_id: str
    requesters: list[Requester]
    agent_emails: list[str]
    agent_ids: list[str]

    def expected_mails(self, requester: Requester) -> set[str]:
        """Who gets a new ticket's mail (services/notifications routing/recipients.py): the
        requester (the receipt), the unit's contact address and every active agent."""
        return {requester.email, requester.unit_contact, *self.agent_emails}


PASSWORD = "campaign-password-1"


async def add_user(api: Api, admin: str, username: str, role: str, **fields: str) -> str:
    """A user through identity's API; their id."""
    user = await api.ok(
        "POST",
        "/api/identity/users",
        token=admin,
        body={"username": username, "role": role, "password": PASSWORD, **fields},
    )
    return str(user["id"])


async def add_unit_with_requester(api: Api, admin: str, n: int, tag: str) -> Requester:
    contact = f"kontak{n}-{tag}@example.go.id"
    unit = await api.ok(
        "POST",
        "/api/identity/units",
        token=admin,
        body={"code": f"FC{n}{tag}".upper(), "name": f"Dinas Kampanye {n}"}
        | {"contact_email": contact},
    )
    email = f"pemohon{n}-{tag}@example.go.id"
    username = f"pemohon{n}{tag}"
    await add_user(
        api,
        admin,
        username,
        "requester",
        full_name=f"Pemohon Kampanye {n}",
        email=email,
        unit_id=unit["id"],
    )
    return Requester(await login(api, username, PASSWORD), email, contact)


async def seed_world(api: Api, admin_password: str, units: int, agents: int) -> World:
    """Agents, and units each with a contact address and one requester (signed in)."""
    admin = await login(api, "admin", admin_password)
    tag = uuid.uuid4().hex[:6]
    agent_emails = [f"petugas{n}-{tag}@example.go.id" for n in range(agents)]
    agent_ids = [
        await add_user(
            api, admin, f"petugas{n}{tag}", "agent", full_name=f"Petugas {n}", email=email
        )
        for n, email in enumerate(agent_emails)
    ]
    requesters = [await add_unit_with_requester(api, admin, n, tag) for n in range(units)]
    categories = await api.ok("GET", "/api/tickets/categories", token=requesters[0].token)
    items = categories["items"] if isinstance(categories, dict) else categories
    return World(items[0]["id"], requesters, agent_emails, agent_ids)


async def first_ticket(api: Api, world: World, requester: Requester) -> str:
    """A ticket of the requester's, retried until the tickets service knows their unit (it
    learns it from identity's events); its number."""
    deadline = time.monotonic() + 60
    while True:
        status, data = await api.call(
            "POST",
            "/api/tickets/tickets",
            token=requester.token,
            body={"title": "Pemanasan", "description": "tiket pemanasan"}
            | {"category_id": world.category_id},
        )
        if status == 201:
            return str(data["number"])
        if time.monotonic() > deadline:
            raise RuntimeError(f"the tickets service refused the warm-up: {status} {data}")
        await asyncio.sleep(0.3)


async def warm_up(api: Api, world: World, sink: SmtpSink, dsn: str) -> None:
    """One ticket per requester, then exactly the expected mails and in-app rows for each:
    the counts after the load rest on them."""
    numbers = {await first_ticket(api, world, r): r for r in world.requesters}
    deadline = time.monotonic() + 60
    while True:
        sink.read()
        mails = {number: {rcpt for (n, rcpt) in sink.mails if n == number} for number in numbers}
        in_app = await count_in_app(dsn, list(numbers))
        complete = all(mails[n] == world.expected_mails(r) for n, r in numbers.items()) and all(
            in_app.get(n) == len(world.agent_ids) for n in numbers
        )
        if complete:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the warm-up tickets' notifications are not the expected ones: mails {mails},"
                f" in-app rows {in_app}, agents {len(world.agent_ids)}"
            )
        await asyncio.sleep(0.5)


async def count_in_app(dsn: str, numbers: list[str]) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT ticket_number, count(*) FROM notifications.notifications"
            " WHERE event_type = 'ticket.created' AND ticket_number = ANY($1)"
            " GROUP BY ticket_number",
            numbers,
        )
    finally:
        await connection.close()
    return {row[0]: row[1] for row in rows}


# -- the load ---------------------------------------------------------------------------


@dataclass
class Attempt:
    at: float  # seconds since the load started
    outcome: str  # the HTTP status, or the kind of connection error


@dataclass
class Create:
    marker: str
    requester: Requester
    attempts: list[Attempt] = field(default_factory=list)
    ticket_id: str | None = None  # from the 2xx answer

    @property
    def succeeded(self) -> bool:
        return self.ticket_id is not None


def retryable(status: int, body: Any) -> bool:
    """What a well-behaved client sends again with the same key: server errors, throttling,
    and an idempotent request still in progress elsewhere (409 naming the key)."""
    if status >= 500 or status == 429:
        return True
    return status == 409 and "idempot" in json.dumps(body).lower()


async def create_once(
    session: aiohttp.ClientSession, url: str, create: Create, body: dict[str, Any], key: str
) -> tuple[int | str, Any]:
    headers = {"Authorization": f"Bearer {create.requester.token}", "Idempotency-Key": key}
    try:
        async with session.post(url, json=body, headers=headers) as response:
            data = await response.json(content_type=None) if response.content_length != 0 else None
            return response.status, data
    except TimeoutError:
        return "timeout", None
    except (aiohttp.ClientError, OSError) as exc:
        return type(exc).__name__, None


async def client_loop(
    number: int,
    session: aiohttp.ClientSession,
    url: str,
    world: World,
    run_id: str,
    *,
    began: float,
    until: float,
    retries: int,
    creates: list[Create],
) -> None:
    requester = world.requesters[number % len(world.requesters)]
    sequence = 0
    while time.monotonic() < until:
        sequence += 1
        create = Create(f"{run_id}-{number:02d}-{sequence:06d}", requester)
        creates.append(create)
        body = {
            "title": f"{TITLE} {create.marker}",
            "description": "Layanan tidak dapat diakses sejak pagi.",
            "category_id": world.category_id,
        }
        key = str(uuid.uuid4())
        for attempt in range(retries + 1):
            status, data = await create_once(session, url, create, body, key)
            create.attempts.append(Attempt(time.monotonic() - began, str(status)))
            if isinstance(status, int) and 200 <= status < 300:
                create.ticket_id = data["id"]
                break
            if isinstance(status, int) and not retryable(status, data):
                break
            if attempt < retries:
                # Exponential back-off with jitter, capped: about 20 s over 8 retries.
                await asyncio.sleep(min(4.0, 0.2 * 2**attempt) * random.uniform(0.75, 1.25))


async def send_canary(
    session: aiohttp.ClientSession, url: str, world: World, run_id: str
) -> Create:
    """One marker created twice with two keys, as a client that does not keep its key
    would: the count must find exactly this double, or it could find none."""
    canary = Create(f"{run_id}-canary", world.requesters[0])
    body = {
        "title": f"{TITLE} {canary.marker}",
        "description": "Pemeriksaan penghitung duplikat.",
        "category_id": world.category_id,
    }
    for _ in range(2):
        status, data = await create_once(session, url, canary, body, str(uuid.uuid4()))
        if status != 201:
            raise RuntimeError(f"the canary create failed: {status} {data}")
    return canary


# -- the faults -------------------------------------------------------------------------


@dataclass
class FaultWindow:
    name: str
    start: float  # seconds since the load started
    end: float | None = None  # when the system said it was back
    detail: str = ""

    def holds(self, at: float) -> bool:
        end = self.end if self.end is not None else float("inf")
        return self.start <= at <= end + FAULT_GRACE_SECONDS


def open_connections(pid: int) -> int:
    with contextlib.suppress(psutil.Error):
        return sum(
            1
            for c in psutil.Process(pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_ESTABLISHED
        )
    return 0


async def kill_tickets_worker(system: System) -> str:
    """SIGKILL the tickets worker holding the most connections (the gateway's, so requests
    are in flight on it); uvicorn's supervisor starts a new one. Waits until it is there."""
    supervisor = psutil.Process(await system.pid("tickets"))

    def workers() -> set[int]:
        found = set()
        for child in supervisor.children():
            with contextlib.suppress(psutil.Error):  # a dead worker not yet reaped
                if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in str(child.cmdline()):
                    found.add(child.pid)
        return found

    before = workers()
    victim = max(before, key=open_connections)
    held = open_connections(victim)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while len(workers() - {victim}) < len(before):
        if time.monotonic() > deadline:
            return f"killed {victim} ({held} connections); no replacement within 60 s"
        await asyncio.sleep(0.1)
    return f"killed {victim} ({held} connections), replaced by {sorted(workers() - before)}"


async def inflict(
    name: str, system: System, pg: Postgres, rabbit: RabbitNode, outage: float
) -> str:
    if name == "rabbitmq":
        await rabbit.stop()
        await asyncio.sleep(outage)
        await rabbit.start()
        return f"stopped for {outage:.0f} s, then started again"
    if name == "postgresql":
        await pg.restart()
        return "pg_ctl restart -m fast"
    if name == "tickets-worker":
        return await kill_tickets_worker(system)
    await system.restart(name)  # notifications, gateway: SIGTERM, start, ready
    return "SIGTERM, started again, ready"


async def run_faults(
    timeline: list[tuple[str, float]],
    began: float,
    windows: list[FaultWindow],
    **targets: Any,
) -> None:
    for name, at in sorted(timeline, key=lambda item: item[1]):
        await asyncio.sleep(max(0.0, began + at - time.monotonic()))
        window = FaultWindow(name, time.monotonic() - began)
        windows.append(window)
        try:
            window.detail = await inflict(name, **targets)
        except Exception as exc:  # a fault that failed is a finding, not a reason to stop
            window.detail = f"failed: {exc!r}"[:500]
        window.end = time.monotonic() - began


def parse_timeline(text: str | None, seconds: float) -> list[tuple[str, float]]:
    if text is None:
        return [
            (name, round(share * seconds, 1))
            for name, share in zip(FAULTS, DEFAULT_TIMELINE, strict=True)
        ]
    if text.strip() == "none":
        return []
    timeline = []
    for item in text.split(","):
        name, _, at = item.partition("=")
        if name.strip() not in FAULTS:
            raise SystemExit(f"unknown fault {name!r}: one of {', '.join(FAULTS)}")
        timeline.append((name.strip(), float(at)))
    return timeline


# -- convergence and the counts -----------------------------------------------------------


@dataclass
class Snapshot:
    """What the database and the SMTP server hold for the campaign's markers."""

    rows: dict[str, list[tuple[str, str]]]  # marker -> [(ticket id, number)]
    in_app: collections.Counter[tuple[str, str]]  # (ticket id, agent id) -> rows
    outbox_backlog: int
    mail_backlog: int
    mails_failed: int


async def snapshot(dsn: str, run_id: str) -> Snapshot:
    connection = await asyncpg.connect(dsn)
    try:
        tickets = await connection.fetch(
            "SELECT id::text, number, title FROM tickets.tickets WHERE title LIKE $1",
            f"{TITLE} {run_id}-%",
        )
        in_app = await connection.fetch(
            "SELECT ticket_id::text, user_id::text, count(*) FROM notifications.notifications"
            " WHERE event_type = 'ticket.created' GROUP BY 1, 2"
        )
        outbox = await connection.fetchval(
            "SELECT count(*) FROM tickets.outbox WHERE published_at IS NULL"
        )
        mail = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')),"
            " count(*) FILTER (WHERE status = 'failed') FROM notifications.email_deliveries"
        )
    finally:
        await connection.close()
    rows: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for ticket_id, number, title in tickets:
        rows[title.rsplit(" ", 1)[1]].append((ticket_id, number))
    counts = collections.Counter({(t, u): n for t, u, n in in_app})
    assert mail is not None
    return Snapshot(dict(rows), counts, outbox, mail[0], mail[1])


@dataclass
class Tally:
    created: int = 0  # creates a client got a 2xx for
    abandoned: int = 0  # creates given up without a 2xx
    abandoned_with_row: int = 0
    rows: int = 0
    lost_rows: int = 0  # a 2xx seen, no row
    doubled_rows: int = 0  # rows beyond one per marker
    phantom_rows: int = 0  # a row for a marker nobody sent
    canary_rows: int = 0  # the marker sent twice on purpose: 2 when doubles are seen
    mails_expected: int = 0
    mails_missing: int = 0
    mails_doubled: int = 0  # mails beyond one per ticket and address
    mails_unexpected: int = 0  # to an address that should not hear of the ticket
    in_app_expected: int = 0
    in_app_missing: int = 0
    in_app_doubled: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, what: str, example: str) -> None:
        found = self.examples.setdefault(what, [])
        if len(found) < 5:
            found.append(example)

    @property
    def lost(self) -> int:
        return self.lost_rows + self.mails_missing + self.in_app_missing

    @property
    def doubled(self) -> int:
        return self.doubled_rows + self.phantom_rows + self.mails_doubled + self.in_app_doubled


def tally(
    creates: list[Create], canary: Create, world: World, snap: Snapshot, sink: SmtpSink
) -> Tally:
    result = Tally()
    by_marker = {create.marker: create for create in [*creates, canary]}
    result.canary_rows = len(snap.rows.get(canary.marker, []))
    mails_by_number: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for (number, rcpt), count in sink.mails.items():
        mails_by_number[number][rcpt] = count
    for create in creates:
        rows = snap.rows.get(create.marker, [])
        if create.succeeded:
            result.created += 1
            if not rows:
                result.lost_rows += 1
                result.note("lost_rows", create.marker)
        else:
            result.abandoned += 1
            result.abandoned_with_row += bool(rows)
        if len(rows) > 1:
            result.doubled_rows += len(rows) - 1
            result.note("doubled_rows", f"{create.marker}: {[n for _, n in rows]}")
    for marker, rows in snap.rows.items():
        if marker not in by_marker:
            result.phantom_rows += len(rows)
            result.note("phantom_rows", marker)
            continue
        requester = by_marker[marker].requester
        for ticket_id, number in rows:
            result.rows += 1
            tally_ticket(result, world, requester, ticket_id, number, mails_by_number, snap)
    return result


def tally_ticket(
    result: Tally,
    world: World,
    requester: Requester,
    ticket_id: str,
    number: str,
    mails_by_number: dict[str, dict[str, int]],
    snap: Snapshot,
) -> None:
    expected = world.expected_mails(requester)
    received = mails_by_number.get(number, {})
    result.mails_expected += len(expected)
    for address in expected:
        count = received.get(address, 0)
        if count == 0:
            result.mails_missing += 1
            result.note("mails_missing", f"{number} -> {address}")
        elif count > 1:
            result.mails_doubled += count - 1
            result.note("mails_doubled", f"{number} -> {address} x {count}")
    for address in received.keys() - expected:
        result.mails_unexpected += received[address]
        result.note("mails_unexpected", f"{number} -> {address}")
    result.in_app_expected += len(world.agent_ids)
    for agent in world.agent_ids:
        count = snap.in_app.get((ticket_id, agent), 0)
        if count == 0:
            result.in_app_missing += 1
            result.note("in_app_missing", f"{number} -> agent {agent}")
        elif count > 1:
            result.in_app_doubled += count - 1
            result.note("in_app_doubled", f"{number} -> agent {agent} x {count}")


async def converge(
    dsn: str,
    run_id: str,
    creates: list[Create],
    canary: Create,
    world: World,
    sink: SmtpSink,
    timeout: float,
) -> tuple[Tally, Snapshot, float | None]:
    """Poll until every ticket's mails and in-app rows are there and nothing is queued
    (a mail still claimed would go out again: a double to catch); the seconds it took, or
    None when ``timeout`` passed first."""
    started = time.monotonic()
    while True:
        sink.read()
        snap = await snapshot(dsn, run_id)
        counts = tally(creates, canary, world, snap, sink)
        settled = snap.outbox_backlog == 0 and snap.mail_backlog == 0
        if settled and counts.mails_missing == 0 and counts.in_app_missing == 0:
            return counts, snap, time.monotonic() - started
        if time.monotonic() - started > timeout:
            return counts, snap, None
        await asyncio.sleep(2)


async def slow_mails(
    dsn: str, began_wall: float, windows: list[FaultWindow], out: Path, *, after: float = 120.0
) -> dict[str, Any]:
    """New-ticket mails sent more than ``after`` seconds after they were queued, or on a
    second attempt, by the fault window they were queued in (a claim left behind by a sender
    waits for its lease); every one is written to ``out`` to look up in the logs."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT event_id::text, ticket_number, recipient, attempts, status,"
            " extract(epoch FROM created_at)::float8 AS queued,"
            " extract(epoch FROM sent_at)::float8 AS sent"
            " FROM notifications.email_deliveries WHERE event_type = 'ticket.created'"
            " AND (attempts > 1 OR sent_at - created_at > make_interval(secs => $1))"
            " ORDER BY created_at",
            after,
        )
    finally:
        await connection.close()
    late = [
        {
            "event_id": row["event_id"],
            "ticket": row["ticket_number"],
            "recipient": row["recipient"],
            "attempts": row["attempts"],
            "status": row["status"],
            "queued_at_s": round(row["queued"] - began_wall, 2),
            "sent_at_s": None if row["sent"] is None else round(row["sent"] - began_wall, 2),
        }
        for row in rows
    ]
    await asyncio.to_thread(out.write_text, json.dumps(late, indent=1))
    by_window: collections.Counter[str] = collections.Counter()
    for mail in late:
        holding = [w.name for w in windows if w.holds(mail["queued_at_s"])]
        by_window[holding[-1] if holding else "no fault"] += 1
    return {
        "count": len(late),
        "second_attempts": sum(1 for mail in late if mail["attempts"] > 1),
        "queued_during": dict(by_window),
        "queued_at_s": sorted({round(mail["queued_at_s"]) for mail in late}),
        "sent_at_s": sorted({round(mail["sent_at_s"] or -1) for mail in late}),
        "events": len({mail["event_id"] for mail in late}),
        "listed_in": str(out),
    }


def others_arrived(sink: SmtpSink, listed: Path, load_end: float) -> float:
    """Seconds after the load when the last mail that was neither late nor retried arrived:
    how long the backlog itself took to drain."""
    slow = {(m["ticket"], m["recipient"]) for m in json.loads(listed.read_text())}
    times = [t for key, t in sink.arrived.items() if key not in slow]
    return round(max(times, default=load_end) - load_end, 1)


def failures_by_window(creates: list[Create], windows: list[FaultWindow]) -> dict[str, Any]:
    """Every answer that was not a 2xx: by outcome, and by the fault it fell in."""
    by_outcome: collections.Counter[str] = collections.Counter()
    by_window: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for create in creates:
        for attempt in create.attempts:
            if attempt.outcome.isdigit() and attempt.outcome.startswith("2"):
                continue
            by_outcome[attempt.outcome] += 1
            # Windows overlap by their grace: the latest fault is the likeliest cause.
            holding = [w.name for w in windows if w.holds(attempt.at)]
            window = holding[-1] if holding else "no fault"
            by_window[window][attempt.outcome] += 1
    return {
        "by_outcome": dict(by_outcome.most_common()),
        "by_fault": {name: dict(counter.most_common()) for name, counter in by_window.items()},
    }


# -- the run ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def infrastructure(
    args: argparse.Namespace,
) -> AsyncIterator[tuple[Postgres, RabbitNode, SmtpSink, System]]:
    """Everything the campaign runs, stopped in reverse order whatever happens."""
    offset = args.port_offset
    async with contextlib.AsyncExitStack() as stack:
        pg = Postgres(5432 + offset, args.state_dir / "logs")
        stack.push_async_callback(pg.stop)
        await pg.start()
        rabbit = RabbitNode(5672 + offset, args.state_dir / "rabbitmq")
        stack.push_async_callback(rabbit.stop)
        await rabbit.start()
        sink = SmtpSink(free_port(), args.state_dir / "smtp-received.txt")
        stack.push_async_callback(sink.stop)
        await sink.start()
        system = System(args, pg, rabbit, sink.port)
        stack.push_async_callback(system.stop)
        await system.start()
        yield pg, rabbit, sink, system


@dataclass
class LoadRun:
    creates: list[Create]
    windows: list[FaultWindow]
    began_wall: float  # wall clock, comparable with the database's timestamps
    seconds: float


async def load_with_faults(
    session: aiohttp.ClientSession,
    world: World,
    run_id: str,
    args: argparse.Namespace,
    timeline: list[tuple[str, float]],
    targets: dict[str, Any],
) -> LoadRun:
    """The clients at full speed for ``args.seconds`` while the faults strike on schedule."""
    run = LoadRun([], [], time.time(), 0.0)
    began = time.monotonic()
    url = targets["system"].gateway_url + "/api/tickets/tickets"
    faults = asyncio.create_task(run_faults(timeline, began, run.windows, **targets))
    await asyncio.gather(
        *(
            client_loop(
                n,
                session,
                url,
                world,
                run_id,
                began=began,
                until=began + args.seconds,
                retries=args.retries,
                creates=run.creates,
            )
            for n in range(args.clients)
        )
    )
    run.seconds = time.monotonic() - began
    await faults  # a fault still running when the load ends finishes first
    return run


async def campaign(args: argparse.Namespace) -> dict[str, Any]:
    run_id = "FC" + uuid.uuid4().hex[:6]
    timeline = parse_timeline(args.faults, args.seconds)
    async with infrastructure(args) as (pg, rabbit, sink, system):
        dsn = pg.dsn.rsplit("/", 1)[0] + "/helpdesk"
        timeout = aiohttp.ClientTimeout(total=args.request_timeout)
        connector = aiohttp.TCPConnector(limit=args.clients * 2)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            api = Api(system.gateway_url, session)
            world = await seed_world(api, system.admin_password, args.units, args.agents)
            await warm_up(api, world, sink, dsn)
            print(f"seeded and warmed up; load for {args.seconds:.0f} s, faults {timeline}")
            targets = {"system": system, "pg": pg, "rabbit": rabbit, "outage": args.rabbitmq_outage}
            run = await load_with_faults(session, world, run_id, args, timeline, targets)
            canary = await send_canary(
                session, system.gateway_url + "/api/tickets/tickets", world, run_id
            )
        counts, snap, converged = await converge(
            dsn, run_id, run.creates, canary, world, sink, args.converge_timeout
        )
        # A mail sent twice arrives a moment after its first copy: look once more.
        await asyncio.sleep(3)
        sink.read()
        snap = await snapshot(dsn, run_id)
        counts = tally(run.creates, canary, world, snap, sink)
        listed = args.state_dir / "late-mails.json"
        late = await slow_mails(dsn, run.began_wall, run.windows, listed)
        late["others_all_arrived_s_after_load"] = others_arrived(
            sink, listed, run.began_wall + run.seconds
        )
        result = report(args, counts, snap, run, converged, sink)
        return result | {"mails_late_over_120s_or_retried": late}


def report(
    args: argparse.Namespace,
    counts: Tally,
    snap: Snapshot,
    run: LoadRun,
    converged: float | None,
    sink: SmtpSink,
) -> dict[str, Any]:
    creates, windows, load_seconds = run.creates, run.windows, run.seconds
    failures = failures_by_window(creates, windows)
    retried = sum(1 for create in creates if len(create.attempts) > 1)
    return {
        "reference_loop_seconds": reference_loop_seconds(),
        "clients": args.clients,
        "load_seconds": round(load_seconds, 1),
        "created": counts.created,
        "creates_per_s": round(counts.created / load_seconds, 1),
        "creates_retried": retried,
        "creates_abandoned": counts.abandoned,
        "abandoned_but_row_exists": counts.abandoned_with_row,
        "ticket_rows": counts.rows,
        "double_detector_check_rows": counts.canary_rows,
        "lost": counts.lost,
        "lost_detail": {
            "rows (2xx seen, no ticket)": counts.lost_rows,
            "mails missing (ticket, address)": counts.mails_missing,
            "in-app missing (ticket, agent)": counts.in_app_missing,
        },
        "doubled": counts.doubled,
        "doubled_detail": {
            "rows beyond one per marker": counts.doubled_rows,
            "rows for a marker nobody sent": counts.phantom_rows,
            "mails beyond one per ticket and address": counts.mails_doubled,
            "in-app rows beyond one per ticket and agent": counts.in_app_doubled,
        },
        "mails_expected": counts.mails_expected,
        "mails_to_unexpected_addresses": counts.mails_unexpected,
        "mails_without_ticket_number": sink.unnumbered,
        "mails_failed_for_good": snap.mails_failed,
        "in_app_expected": counts.in_app_expected,
        "answers_500": failures["by_outcome"].get("500", 0),
        "answers_5xx": sum(n for k, n in failures["by_outcome"].items() if k.startswith("5")),
        "failed_answers": failures,
        "faults": [
            {
                "fault": w.name,
                "from_s": round(w.start, 1),
                "to_s": None if w.end is None else round(w.end, 1),
                "what": w.detail,
            }
            for w in windows
        ],
        "converged_seconds_after_load": None if converged is None else round(converged, 1),
        "examples": counts.examples,
        "state_dir": str(args.state_dir),
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    converged = result["converged_seconds_after_load"]
    return [
        f"created {result['created']} ({result['creates_per_s']}/s over"
        f" {result['load_seconds']} s, {result['clients']} clients), rows {result['ticket_rows']}"
        f" (with the {result['double_detector_check_rows']} of the marker sent twice on purpose),"
        f" retried {result['creates_retried']}, abandoned {result['creates_abandoned']}",
        f"LOST {result['lost']}: {result['lost_detail']}",
        f"DOUBLED {result['doubled']}: {result['doubled_detail']}",
        f"500s: {result['answers_500']} (target 0); 5xx in all: {result['answers_5xx']}",
        f"failed answers by fault: {result['failed_answers']['by_fault']}",
        f"mails late (> 120 s) or retried: {result['mails_late_over_120s_or_retried']}",
        "converged "
        + (f"{converged} s after the load" if converged is not None else "NOT within the timeout"),
    ]


async def main(args: argparse.Namespace) -> int:
    if args.state_dir is None:
        args.state_dir = Path(tempfile.mkdtemp(prefix="fault-campaign-"))
    args.state_dir.mkdir(parents=True, exist_ok=True)
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM as Ctrl-C: unwind, stopping everything that was started.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    result = await campaign(args)
    print(json.dumps(result, indent=2))
    print(f"saved to {save('fault_campaign', result)}")
    print("\n".join(summary_lines(result)))
    print(f"logs of every service: {args.state_dir / 'logs'}")
    if result["double_detector_check_rows"] != 2:
        print("the marker created twice on purpose was not counted twice: the counts are wrong")
        return 1
    failed = result["lost"] or result["doubled"] or result["converged_seconds_after_load"] is None
    return 1 if failed else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="how long the load runs")
    parser.add_argument("--clients", type=int, default=16, help="concurrent creating clients")
    parser.add_argument("--units", type=int, default=4, help="units, one requester each")
    parser.add_argument("--agents", type=int, default=2)
    parser.add_argument(
        "--faults",
        help="name=seconds,... (rabbitmq, postgresql, tickets-worker, notifications, gateway)"
        " or 'none'; default: all five at 10/30/45/60/75 %% of the load",
    )
    parser.add_argument("--rabbitmq-outage", type=float, default=8.0, help="seconds stopped")
    parser.add_argument("--retries", type=int, default=8, help="resends of a failed create")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--converge-timeout", type=float, default=400.0)
    parser.add_argument("--port-offset", type=int, default=600)
    parser.add_argument("--state-dir", type=Path, help="logs and data (default: a new temp dir)")
    return parser.parse_args()


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except KeyboardInterrupt:  # everything it started was stopped on the way out
        print("interrupted: everything the campaign started is stopped", file=sys.stderr)
        sys.exit(130)
