"""Pytest plugin shared by every test suite (loaded with ``-p helpdesk_common.testing``).

Tests run against the real PostgreSQL and RabbitMQ (``scripts/test`` starts them). Each test
session gets a throw-away database and a unique exchange / queue prefix, so runs never see
each other's data or messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from helpdesk_common.auth import Principal, generate_keypair, sign_access_token
from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.identity import UnitCreated
from helpdesk_common.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)

PG_ADMIN_DSN = os.environ.get(
    "HELPDESK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("HELPDESK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def sample_unit_created(name: str = "Dinas Kominfo") -> UnitCreated:
    """A valid ``unit.created`` payload, for tests that need some event to move around."""
    return UnitCreated(
        unit_id=uuid.uuid4(),
        code=name[:8].upper(),
        name=name,
        is_active=True,
        revision=1,
        updated_at=datetime.now(UTC),
    )


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
async def database_url(run_id: str) -> AsyncIterator[str]:
    """A fresh database for this test session, dropped at the end."""
    name = f"helpdesk_test_{run_id}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return AMQP_URL


@pytest.fixture(scope="session")
def keypair() -> tuple[str, str]:
    return generate_keypair()


@pytest.fixture(scope="session")
def make_settings(
    database_url: str, amqp_url: str, run_id: str, keypair: tuple[str, str]
) -> Callable[..., Any]:
    """Build a service's settings pointing at the test database, broker and keys.

    ``make_settings(TicketsSettings, schema="tickets_a")``: every call may pass a schema of
    its own so that several instances of one service can be tested side by side.
    """

    def build(cls: type[S], *, schema: str | None = None, **overrides: Any) -> S:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "amqp_url": amqp_url,
            "event_exchange": f"test.{run_id}.events",
            "queue_prefix": f"test.{run_id}.",
            "jwt_public_key": keypair[1],
            "retry_delays": [0.2, 0.4],
            "queue_expires_seconds": 300,
            "outbox_poll_interval": 0.1,
            "log_json": False,
            "db_pool_size": 5,
        }
        if schema is not None:
            values["db_schema"] = schema
        values.update(overrides)
        return cls(**values)

    return build


@pytest.fixture(scope="session")
def make_token(keypair: tuple[str, str]) -> Callable[..., str]:
    """Sign an access token for a made-up or given principal."""

    def sign(
        role: str = "agent",
        *,
        user_id: uuid.UUID | None = None,
        unit_id: uuid.UUID | None = None,
        name: str = "Test User",
        email: str | None = None,
        ttl: timedelta = timedelta(minutes=15),
        private_key: str | None = None,
    ) -> str:
        principal = Principal(
            user_id=user_id or uuid.uuid4(),
            role=role,  # type: ignore[arg-type]
            unit_id=unit_id,
            name=name,
            email=email,
        )
        return sign_access_token(
            principal,
            private_key=private_key or keypair[0],
            issuer="helpdesk-identity",
            audience="helpdesk",
            ttl=ttl,
        )

    return sign


@contextlib.asynccontextmanager
async def app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and talk to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_http(app: Any, *, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app on a real loopback port; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def eventually(
    check: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05
) -> Any:
    """Poll ``check`` (sync or async) until it returns a truthy value or time runs out."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def event_tap(settings: ServiceSettings) -> AsyncIterator[list[EventEnvelope]]:
    """Every event that reaches the settings' exchange (an exclusive queue bound to '#')."""
    seen: list[EventEnvelope] = []
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        settings.event_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="#")

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        seen.append(EventEnvelope.model_validate_json(message.body))
        await message.ack()

    await queue.consume(on_message)
    try:
        yield seen
    finally:
        await connection.close()


class TcpProxy:
    """A loopback TCP proxy that a test can cut and restore, to take a real server 'down'."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Stop accepting and drop every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            self._writers.discard(writer)


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
        env={**os.environ, **_expiring_queues(), **extra_env},
        start_new_session=True,
    )  # fmt: skip


async def _stop_system(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
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
    )


def _expiring_queues() -> dict[str, str]:
    # The throw-away system's queues vanish once idle instead of piling up on the broker.
    return {
        f"{service}_QUEUE_EXPIRES_SECONDS": "120"
        for service in ("IDENTITY", "TICKETS", "NOTIFICATIONS")
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
