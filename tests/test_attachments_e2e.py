"""Files on tickets across the services, through the gateway, over real HTTP, AMQP,
PostgreSQL, S3 (SeaweedFS), clamd and SMTP: a requester attaches a file the moment the
ticket exists; the file is scanned, listed, on the timeline, announced to the assignee;
a 10 MB upload and download stream through the gateway and the service without either
process growing by more than a few MB."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
import zipfile
from typing import Any

import httpx
import psutil

from helpdesk_testing import LocalSystem, eventually

from .test_end_to_end import Client, login, mails_to

GROWTH_LIMIT = 6 * 1024 * 1024


def stored_zip(size: int) -> bytes:
    """A zip of random bytes (stored, not compressed): accepted as a zip, incompressible."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
        zipped.writestr("rekaman.bin", os.urandom(size))
    return archive.getvalue()


def service_process(system: LocalSystem, module: str) -> psutil.Process:
    for child in psutil.Process(system.process.pid).children(recursive=True):
        if any(module in part for part in child.cmdline()):
            return child
    raise AssertionError(f"no process runs {module}")


class PeakRss:
    """Samples the resident memory of processes every 20 ms while the block runs."""

    def __init__(self, *processes: psutil.Process) -> None:
        self.processes = processes
        self.before = [p.memory_info().rss for p in processes]
        self.peak = list(self.before)
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            for index, process in enumerate(self.processes):
                self.peak[index] = max(self.peak[index], process.memory_info().rss)
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> PeakRss:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def growth(self) -> list[int]:
        return [peak - before for peak, before in zip(self.peak, self.before, strict=True)]


async def setup_people(http: httpx.AsyncClient, system: LocalSystem) -> dict[str, Any]:
    admin = await login(http, system.gateway_url, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    unit = await admin.ok(
        "POST",
        "/api/identity/units",
        json={"code": f"DISHUB{tag}".upper(), "name": "Dinas Perhubungan"},
    )
    password = "rahasia-kuat-1"
    people: dict[str, Any] = {"unit": unit, "tag": tag}
    for role, name in (("requester", "Rina Pemohon"), ("agent", "Joko Petugas")):
        await admin.ok(
            "POST",
            "/api/identity/users",
            json={
                "username": f"{role}{tag}",
                "full_name": name,
                "email": f"{role}-{tag}@example.go.id",
                "role": role,
                "password": password,
                **({"unit_id": unit["id"]} if role == "requester" else {}),
            },
        )
        people[role] = await login(http, system.gateway_url, f"{role}{tag}", password)
    return people


async def create_ticket(requester: Client, agent: Client) -> dict[str, Any]:
    categories = await agent.ok("GET", "/api/tickets/categories")
    category = (categories["items"] if isinstance(categories, dict) else categories)[0]

    async def create() -> dict[str, Any] | None:
        response = await requester.call(
            "POST",
            "/api/tickets/tickets",
            json={
                "title": "Lampu lalu lintas mati",
                "description": "Panel kontrol di simpang empat tidak menyala sejak pagi.",
                "category_id": category["id"],
            },
        )
        return response.json() if response.status_code == 201 else None

    return await eventually(create, timeout=20, interval=0.2)


async def upload(client: Client, ticket_id: str, content: bytes, name: str, **data: str) -> Any:
    response = await client.call(
        "POST",
        f"/api/attachments/tickets/{ticket_id}/attachments",
        files={"file": (name, content)},
        data=data,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_files_follow_the_ticket_across_services(
    system: LocalSystem, http: httpx.AsyncClient
):
    people = await setup_people(http, system)
    requester, agent = people["requester"], people["agent"]
    ticket = await create_ticket(requester, agent)
    # At once: the attachments service may not have heard of the ticket yet; it asks.
    photo = await upload(requester, ticket["id"], stored_zip(1000), "Foto panel (1).zip")
    assert photo["kind"] == "supporting" and photo["scan_status"] == "pending"
    assert photo["content_url"] == f"/api/attachments/attachments/{photo['id']}/content"
    path = f"/api/tickets/tickets/{ticket['id']}"
    await agent.ok("POST", f"{path}/claim")

    async def scanned() -> Any:
        body = await requester.ok("GET", f"/api/attachments/attachments/{photo['id']}")
        return body if body["scan_status"] == "clean" else None

    await eventually(scanned, timeout=30, interval=0.2)
    downloaded = await requester.call("GET", photo["content_url"])
    assert downloaded.status_code == 200
    assert downloaded.headers["x-content-type-options"] == "nosniff"
    assert "Foto%20panel%20%281%29.zip" in downloaded.headers["content-disposition"]

    # The agent's evidence: on the timeline; the assignee is the uploader, so no mail.
    evidence = await upload(agent, ticket["id"], stored_zip(2000), "bukti.zip", kind="evidence")
    assert evidence["kind"] == "evidence"

    async def on_timeline() -> Any:
        timeline = await requester.ok("GET", f"{path}/timeline")
        entries = timeline["items"] if isinstance(timeline, dict) else timeline
        added = [e for e in entries if e["kind"] == "attachment_added"]
        return added if len(added) == 2 else None

    added = await eventually(on_timeline, timeout=20, interval=0.2)
    assert [e["after"]["filename"] for e in added] == ["Foto panel (1).zip", "bukti.zip"]

    # A new file from the requester on an assigned ticket: the assignee is told.
    await upload(requester, ticket["id"], stored_zip(3000), "tambahan.zip")
    agent_email = f"agent-{people['tag']}@example.go.id"

    async def mailed() -> Any:
        mails = await mails_to(http, system, agent_email)
        return [m for m in mails if "tambahan.zip" in str(m)]

    assert await eventually(mailed, timeout=30, interval=0.3)

    # Another unit's requester: 404, as for the ticket itself.
    admin = await login(http, system.gateway_url, "admin", system.admin_password)
    other_unit = await admin.ok(
        "POST", "/api/identity/units", json={"code": f"LAIN{people['tag']}".upper(), "name": "Lain"}
    )
    await admin.ok(
        "POST",
        "/api/identity/users",
        json={
            "username": f"lain{people['tag']}",
            "full_name": "Orang Lain",
            "role": "requester",
            "unit_id": other_unit["id"],
            "password": "rahasia-kuat-1",
        },
    )
    stranger = await login(http, system.gateway_url, f"lain{people['tag']}", "rahasia-kuat-1")

    # The combined API document has the service, with the upload's two body forms.
    document = (await http.get(f"{system.gateway_url}/api/openapi.json")).json()
    upload_op = document["paths"]["/api/attachments/tickets/{ticket_id}/attachments"]["post"]
    assert set(upload_op["requestBody"]["content"]) == {
        "multipart/form-data",
        "application/octet-stream",
    }
    assert (await stranger.call("GET", photo["content_url"])).status_code == 404
    listing = await stranger.call("GET", f"/api/attachments/tickets/{ticket['id']}/attachments")
    assert listing.status_code == 404


async def test_a_10_mb_file_streams_through_gateway_and_service(
    system: LocalSystem, http: httpx.AsyncClient
):
    people = await setup_people(http, system)
    requester, agent = people["requester"], people["agent"]
    ticket = await create_ticket(requester, agent)
    gateway = service_process(system, "gateway.main")
    attachments = service_process(system, "attachments.main")
    await upload(agent, ticket["id"], stored_zip(1_000_000), "pemanasan.zip")  # warm-up
    content = stored_zip(10 * 1024 * 1024 - 4096)
    async with PeakRss(gateway, attachments) as memory:
        body = await upload(agent, ticket["id"], content, "rekaman-cctv.zip")
        async with agent.http.stream(
            "GET",
            f"{agent.gateway}{body['content_url']}",
            headers={"Authorization": f"Bearer {agent.token}"},
        ) as response:
            assert response.status_code == 200
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
    assert received == len(content)
    gateway_growth, service_growth = memory.growth()
    assert gateway_growth < GROWTH_LIMIT, f"gateway grew by {gateway_growth / 1e6:.1f} MB"
    assert service_growth < GROWTH_LIMIT, f"attachments grew by {service_growth / 1e6:.1f} MB"

    too_big = await agent.call(
        "POST",
        f"/api/attachments/tickets/{ticket['id']}/attachments",
        files={"file": ("terlalu-besar.zip", stored_zip(11 * 1024 * 1024))},
    )
    assert too_big.status_code == 413
    assert "10 MB" in too_big.json()["error"]["message"]
