"""A database restart (every connection terminated) while files are listed, read,
downloaded and uploaded: 503s at worst, never a 500, and reads work right after."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from helpdesk_testing.outages import terminate_backends, through_restarts
from helpdesk_testing.s3 import S3Server

from .conftest import World, png_bytes, running_attachments


@pytest.fixture(scope="module")
async def world(
    make_settings: Callable[..., Any], make_token: Callable[..., str], s3: S3Server
) -> AsyncIterator[World]:
    """Without a scanner: files stay pending, which changes nothing for staff reading them."""
    async with running_attachments(make_settings, make_token, s3, None) as started:
        yield started


async def test_a_database_restart_gives_no_500_and_reads_work_right_after(
    world: World, database_url: str
) -> None:
    unit = uuid.uuid4()
    agent = world.person("agent", unit_id=unit)
    ticket = await world.ticket(unit_id=unit)
    image = png_bytes()
    stored = await world.upload(agent, ticket, image, "a.png")
    assert stored.status_code == 201, stored.text
    file_id = stored.json()["id"]
    # Uploads go round several tickets: one takes 20 files at most.
    more_tickets = itertools.cycle([await world.ticket(unit_id=unit) for _ in range(10)])

    def upload() -> Awaitable[httpx.Response]:
        return world.upload(agent, next(more_tickets), image, "b.png")

    async def restart() -> int:
        return await terminate_backends(database_url, world.settings.service_name)

    outcomes = await through_restarts(
        {
            "list": lambda: world.client.get(
                f"/tickets/{ticket}/attachments", headers=agent.headers
            ),
            "read": lambda: world.client.get(f"/attachments/{file_id}", headers=agent.headers),
            "download": lambda: world.client.get(
                f"/attachments/{file_id}/content", headers=agent.headers
            ),
            "upload": upload,
        },
        restart,
        restarts=4,
        concurrency=3,
    )
    assert outcomes.terminated > 0
    outcomes.assert_no_server_errors()
    assert outcomes.count("download", 200) > 0 and outcomes.count("upload", 201) > 0

    assert await restart() > 0
    response = await world.client.get(f"/tickets/{ticket}/attachments", headers=agent.headers)
    assert response.status_code == 200, response.text
