"""A database restart (every connection terminated) while requests flow: 503s at worst,
never a 500, and the service answers normally right after without being told."""

from __future__ import annotations

from helpdesk_testing.outages import terminate_backends, through_restarts

from .conftest import World


async def test_a_database_restart_gives_no_500_and_reads_work_right_after(
    world: World, database_url: str
) -> None:
    agent = await world.person("agent", unit_id=await world.unit())
    ticket = await world.create(agent)
    body = {
        "title": "Jaringan putus",
        "description": "Tidak bisa mengakses internet.",
        "category_id": await world.category_id(),
        "unit_id": str(agent.unit_id),
    }

    async def restart() -> int:
        return await terminate_backends(database_url, world.settings.service_name)

    outcomes = await through_restarts(
        {
            "read": lambda: world.client.get(f"/tickets/{ticket['id']}", headers=agent.headers),
            "list": lambda: world.client.get("/tickets", headers=agent.headers),
            "create": lambda: world.client.post("/tickets", json=body, headers=agent.headers),
        },
        restart,
    )
    assert outcomes.terminated > 0
    outcomes.assert_no_server_errors()
    assert outcomes.count("read", 200) > 0 and outcomes.count("create", 201) > 0

    # Between requests, the next one does not fail: dead pooled connections are replaced.
    assert await restart() > 0
    response = await world.client.get(f"/tickets/{ticket['id']}", headers=agent.headers)
    assert response.status_code == 200, response.text
    created = await world.client.post("/tickets", json=body, headers=agent.headers)
    assert created.status_code == 201, created.text
