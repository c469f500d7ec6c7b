"""Failures: the object store cut before and during an upload (503, nothing half-written,
the sweep cleans up), the scanner down (files stay pending; staff may download, requesters
may not; scanned when it returns), retention, and the migration matching the models."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from attachments.files.models import Attachment
from attachments.files.service import now, ticket_usage
from attachments.files.sweeper import sweep_once
from attachments.models import metadata
from helpdesk_common.directory import directory_schema_differences
from helpdesk_testing import eventually
from helpdesk_testing.clamd import ClamdProcess
from helpdesk_testing.migrations import model_differences
from helpdesk_testing.net import TcpProxy
from helpdesk_testing.s3 import S3Server

from .conftest import World, png_bytes, running_attachments


class CountingProxy(TcpProxy):
    """A TcpProxy that says when a given number of bytes has gone through it."""

    def __init__(self, host: str, port: int, *, after_bytes: int) -> None:
        super().__init__(host, port)
        self.passed = 0
        self.after_bytes = after_bytes
        self.reached = asyncio.Event()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.passed += len(data)
                if self.passed >= self.after_bytes:
                    self.reached.set()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            self._writers.discard(writer)


def stored_zip(size: int) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
        zipped.writestr("data.bin", uuid.uuid4().bytes * (size // 16))
    return archive.getvalue()


@pytest.fixture
async def behind_proxy(
    make_settings: Callable[..., Any], make_token: Callable[..., str], s3: S3Server
) -> AsyncIterator[tuple[World, CountingProxy]]:
    target = urlsplit(s3.endpoint)
    proxy = CountingProxy(target.hostname or "127.0.0.1", target.port or 80, after_bytes=2_000_000)
    await proxy.start()
    async with running_attachments(
        make_settings,
        make_token,
        s3,
        None,
        s3_endpoint=f"http://127.0.0.1:{proxy.port}",
        s3_timeout_seconds=3.0,
    ) as world:
        yield world, proxy
    await proxy.cut()


async def rows_of(world: World, ticket_id: uuid.UUID) -> list[Attachment]:
    async with world.app.state.runtime.sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    sa.select(Attachment).where(Attachment.ticket_id == ticket_id)
                )
            ).all()
        )


async def counters(world: World, ticket_id: uuid.UUID) -> tuple[int, int]:
    async with world.app.state.runtime.sessionmaker() as session:
        return await ticket_usage(session, ticket_id=ticket_id)


async def test_storage_down_is_503_and_leaves_nothing(behind_proxy):
    world, proxy = behind_proxy
    unit = uuid.uuid4()
    requester = world.person("requester", unit_id=unit)
    ticket = await world.ticket(unit_id=unit)
    await proxy.cut()
    response = await world.upload(requester, ticket, png_bytes(), "a.png")
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "storage_unavailable"
    listed = await world.client.get(f"/tickets/{ticket}/attachments", headers=requester.headers)
    assert listed.json()["items"] == []
    await proxy.restore()
    # The reservation waits for the sweep (the store could not confirm the object is gone).
    await sweep_once(world.app.state.runtime, now=now() + timedelta(hours=2))
    assert await rows_of(world, ticket) == []
    assert await counters(world, ticket) == (0, 0)
    again = await world.upload(requester, ticket, png_bytes(), "a.png")
    assert again.status_code == 201, again.text


async def test_storage_cut_mid_upload(behind_proxy):
    world, proxy = behind_proxy
    unit = uuid.uuid4()
    agent = world.person("agent")
    ticket = await world.ticket(unit_id=unit)
    proxy.passed = 0
    upload = asyncio.create_task(world.upload(agent, ticket, stored_zip(8_000_000), "besar.zip"))
    await asyncio.wait_for(proxy.reached.wait(), timeout=20)
    await proxy.cut()
    response = await upload
    assert response.status_code == 503, response.text
    await proxy.restore()
    rows = await rows_of(world, ticket)
    row = rows[0] if rows else None
    if row is not None:  # left for the sweep: never listed, its object never served
        assert row.state == "uploading"
    await sweep_once(world.app.state.runtime, now=now() + timedelta(hours=2))
    assert await rows_of(world, ticket) == []
    assert await counters(world, ticket) == (0, 0)
    store = world.app.state.runtime.store
    if row is not None:
        assert not await store.exists(row.object_key)


async def test_scanner_down_files_wait_pending(world: World, clamd: ClamdProcess):
    unit = uuid.uuid4()
    requester = world.person("requester", unit_id=unit)
    agent = world.person("agent")
    ticket = await world.ticket(unit_id=unit)
    await clamd.stop()
    try:
        body = (await world.upload(requester, ticket, png_bytes(colour="olive"), "a.png")).json()
        await asyncio.sleep(1.0)  # the worker tried, and failed
        current = (
            await world.client.get(f"/attachments/{body['id']}", headers=agent.headers)
        ).json()
        assert current["scan_status"] == "pending"
        assert current["downloadable"] is True  # staff, knowingly
        waiting = await world.client.get(body["content_url"], headers=requester.headers)
        assert waiting.status_code == 409
        assert waiting.json()["error"]["code"] == "scan_pending"
        staff = await world.client.get(body["content_url"], headers=agent.headers)
        assert staff.status_code == 200 and staff.headers["x-scan-status"] == "pending"
    finally:
        await clamd.start()
    scanned = await world.scanned(body["id"], requester)
    assert scanned["scan_status"] == "clean" and scanned["downloadable"] is True


async def test_deleted_files_objects_go_after_retention(world: World):
    unit = uuid.uuid4()
    requester = world.person("requester", unit_id=unit)
    ticket = await world.ticket(unit_id=unit)
    body = (await world.upload(requester, ticket, png_bytes(colour="gold"), "a.png")).json()
    assert (
        await world.client.delete(f"/attachments/{body['id']}", headers=requester.headers)
    ).status_code == 204
    [row] = await rows_of(world, ticket)
    store = world.app.state.runtime.store
    assert await store.exists(row.object_key)  # kept through the retention period
    await sweep_once(world.app.state.runtime, now=now() + timedelta(days=1))
    assert await store.exists(row.object_key)
    await sweep_once(world.app.state.runtime, now=now() + timedelta(days=31))
    assert not await store.exists(row.object_key)
    assert row.thumbnail_key and not await store.exists(row.thumbnail_key)
    [purged] = await rows_of(world, ticket)
    assert purged.state == "purged"


async def test_migrations_match_the_models(world: World) -> None:
    async with world.app.state.runtime.engine.connect() as connection:
        assert await connection.run_sync(model_differences, metadata) == []
        assert await connection.run_sync(directory_schema_differences) == []


async def test_database_down_is_503_and_stores_nothing(
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
    s3: S3Server,
    database_url: str,
):
    """The database cut between the service and PostgreSQL: a clear 503 with Retry-After,
    not a 500, no object written; the service recovers by itself."""
    target = urlsplit(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    proxied = database_url.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}")
    async with running_attachments(
        make_settings, make_token, s3, None, database_url=proxied
    ) as world:
        unit = uuid.uuid4()
        requester = world.person("requester", unit_id=unit)
        ticket = await world.ticket(unit_id=unit)
        await proxy.cut()
        try:
            listed = await world.client.get(
                f"/tickets/{ticket}/attachments", headers=requester.headers
            )
            assert listed.status_code == 503, listed.text
            assert listed.json()["error"]["code"] == "database_unavailable"
            assert listed.headers["retry-after"]
            refused = await world.upload(requester, ticket, png_bytes(), "a.png")
            assert refused.status_code == 503, refused.text
        finally:
            await proxy.restore()

        async def recovered() -> bool:
            response = await world.client.get(
                f"/tickets/{ticket}/attachments", headers=requester.headers
            )
            return response.status_code == 200 and response.json()["items"] == []

        await eventually(recovered, timeout=20, interval=0.2)
        stored = await world.upload(requester, ticket, png_bytes(), "a.png")
        assert stored.status_code == 201, stored.text
    await proxy.cut()
