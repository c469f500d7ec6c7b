"""What every service answers while its database or broker is unreachable (cut through a
proxy): 503 with the dependency's code and Retry-After, counted, one log line per outage
rather than a traceback per request, readiness saying why; back by itself afterwards. An
error of another kind stays a 500."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from prometheus_client import REGISTRY

from helpdesk_common import errors
from helpdesk_common.app import create_service_app
from helpdesk_common.db import DriverPool, SessionDep
from helpdesk_common.dead_letters import dead_letter_router
from helpdesk_common.settings import ServiceSettings
from helpdesk_testing import PG_ADMIN_DSN, TcpProxy, app_client, eventually

from .test_operability import create_messaging_schema, unready_because_of, via_proxy


def outage_router() -> APIRouter:
    router = APIRouter()

    @router.get("/now")
    async def read(session: SessionDep) -> dict[str, str]:
        return {"now": str(await session.scalar(sa.text("SELECT now()")))}

    @router.post("/now")
    async def write(session: SessionDep) -> dict[str, str]:
        async with session.begin():
            return {"now": str(await session.scalar(sa.text("SELECT now()")))}

    @router.post("/terminated-while-held")
    async def terminated_while_held(pool: DriverPool) -> dict[str, str]:
        """The database restarts while this request holds a driver-pool connection."""
        async with pool.acquire() as connection:
            pid = await connection.fetchval("SELECT pg_backend_pid()")
            admin = await asyncpg.connect(PG_ADMIN_DSN)
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            await asyncio.sleep(0.2)  # the driver sees the socket close
            return {"now": str(await connection.fetchval("SELECT now()"))}

    @router.get("/disk-full")
    async def disk_full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    @router.get("/too-slow")
    async def too_slow() -> None:
        raise TimeoutError("the report took too long")

    return router


@contextlib.asynccontextmanager
async def proxied(url: str, default_port: int) -> AsyncIterator[TcpProxy]:
    target = urlsplit(url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or default_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.cut()


@contextlib.asynccontextmanager
async def service(make_settings: Callable[..., Any], **overrides: Any) -> AsyncIterator[Any]:
    settings = make_settings(
        ServiceSettings,
        schema=f"outage_{uuid.uuid4().hex[:8]}",
        service_name="outagetest",
        broker_reconnect_interval=0.2,
        **overrides,
    )
    app = create_service_app(
        settings=settings,
        title="outage test",
        routers=[outage_router(), dead_letter_router(["probe"])],
        build_runtime=create_messaging_schema,
    )
    async with app_client(app) as client:
        await eventually(lambda: app.state.runtime.bus.is_connected, timeout=10)
        yield app, client


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record)


@contextlib.contextmanager
def error_log() -> Iterator[list[logging.LogRecord]]:
    """What helpdesk.errors logs meanwhile (added after start-up, which resets logging)."""
    handler = Lines()
    logger = logging.getLogger("helpdesk.errors")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def a_new_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's outage is a new one (an earlier test's may have been logged < 60 s ago)."""
    for outage in (errors._DATABASE_OUTAGE, errors._BROKER_OUTAGE):
        monkeypatch.setattr(outage.log, "last", float("-inf"))


def counted(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def assert_unavailable(response: httpx.Response, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == code
    assert int(response.headers["retry-after"]) > 0


async def test_database_down_is_a_503_counted_and_logged_once(
    make_settings: Callable[..., Any], database_url: str
) -> None:
    async with (
        proxied(database_url, 5432) as proxy,
        service(make_settings, database_url=via_proxy(database_url, proxy)) as (_, client),
    ):
        assert (await client.get("/now")).status_code == 200
        before = counted("helpdesk_database_unavailable_total")
        await proxy.cut()
        with error_log() as lines:
            for _ in range(10):
                assert_unavailable(await client.get("/now"), "database_unavailable")
                assert_unavailable(await client.post("/now"), "database_unavailable")
        assert counted("helpdesk_database_unavailable_total") == before + 20
        assert [r.getMessage().split(",")[0] for r in lines] == ["database unavailable"]
        assert not any(r.exc_info for r in lines)
        body = await unready_because_of(client, "database")
        assert body["checks"]["broker"] == "ok"

        await proxy.restore()

        async def back() -> bool:
            return (await client.get("/now")).status_code == 200

        await eventually(back, timeout=15)
        assert (await client.post("/now")).status_code == 200


async def test_a_connection_terminated_while_a_request_holds_it_is_a_503(
    make_settings: Callable[..., Any],
) -> None:
    async with service(make_settings, db_driver_pool_size=2) as (_, client):
        assert_unavailable(await client.post("/terminated-while-held"), "database_unavailable")


class StallingProxy(TcpProxy):
    """A TcpProxy that, once stalled, accepts connections and never answers: a database
    host that is down or unroutable rather than refusing."""

    stalled = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.stalled:
            await super()._accept(reader, writer)
            return
        self._writers.add(writer)
        await reader.read()  # until the service gives up and closes


async def test_a_database_that_does_not_answer_is_a_quick_503(
    make_settings: Callable[..., Any], database_url: str
) -> None:
    target = urlsplit(database_url)
    proxy = StallingProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    try:
        async with service(
            make_settings,
            database_url=via_proxy(database_url, proxy),
            db_connect_timeout_seconds=0.5,
        ) as (_, client):
            assert (await client.get("/now")).status_code == 200
            proxy.stalled = True
            await proxy.cut()  # the pooled connections go; new ones hang
            await proxy.restore()
            started = time.monotonic()
            assert_unavailable(await client.get("/now"), "database_unavailable")
            assert time.monotonic() - started < 3
    finally:
        await proxy.cut()


async def test_broker_down_is_a_503_where_a_request_needs_it(
    make_settings: Callable[..., Any], amqp_url: str, make_token: Callable[..., str]
) -> None:
    admin = {"Authorization": f"Bearer {make_token('admin')}"}
    async with (
        proxied(amqp_url, 5672) as proxy,
        service(make_settings, amqp_url=via_proxy(amqp_url, proxy)) as (app, client),
    ):
        listed = await client.get("/admin/dead-letters/probe", headers=admin)
        assert listed.status_code == 200, listed.text
        before = counted("helpdesk_broker_unavailable_total")
        await proxy.cut()
        await eventually(lambda: not app.state.runtime.bus.is_connected, timeout=10)
        with error_log() as lines:
            for _ in range(5):
                response = await client.get("/admin/dead-letters/probe", headers=admin)
                assert_unavailable(response, "broker_unavailable")
        assert counted("helpdesk_broker_unavailable_total") == before + 5
        assert [r.getMessage().split(",")[0] for r in lines] == ["broker unavailable"]
        # What needs only the database goes on.
        assert (await client.get("/now")).status_code == 200
        body = await unready_because_of(client, "broker")
        assert body["checks"]["database"] == "ok"

        await proxy.restore()

        async def back() -> bool:
            response = await client.get("/admin/dead-letters/probe", headers=admin)
            return response.status_code == 200

        await eventually(back, timeout=20)


@pytest.mark.parametrize("path", ["/disk-full", "/too-slow"])
async def test_an_os_error_of_no_dependency_stays_a_500(
    make_settings: Callable[..., Any], path: str
) -> None:
    async with service(make_settings) as (_, client):
        with error_log() as lines:
            response = await client.get(path)
    assert response.status_code == 500, response.text
    assert response.json()["error"]["code"] == "internal_error"
    assert [r.getMessage() for r in lines] == ["unhandled error"]
    assert lines[0].exc_info is not None


def test_a_background_failure_in_an_outage_is_a_line_and_a_bug_a_traceback() -> None:
    logger = logging.getLogger("helpdesk.test.outages")
    handler = Lines()
    logger.addHandler(handler)
    try:
        errors.log_failure(logger, "round failed", ConnectionRefusedError(111, "refused"))
        errors.log_failure(logger, "round failed", errors.BrokerUnavailable("not connected"))
        errors.log_failure(logger, "round failed", KeyError("ticket_id"))
    finally:
        logger.removeHandler(handler)
    outage, broker, bug = handler.lines
    assert (outage.levelname, outage.exc_info) == ("WARNING", None)
    assert outage.getMessage() == "round failed: ConnectionRefusedError(111, 'refused')"
    assert (broker.levelname, broker.exc_info) == ("WARNING", None)
    assert bug.levelname == "ERROR" and bug.exc_info is not None
