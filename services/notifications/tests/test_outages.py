"""A database restart (every connection terminated) while people read and mark their
notifications: 503s at worst, never a 500, and reads work right after."""

from __future__ import annotations

from helpdesk_testing.outages import terminate_backends, through_restarts

from .conftest import Service


async def test_a_database_restart_gives_no_500_and_reads_work_right_after(
    service: Service, database_url: str
) -> None:
    unit = await service.add_unit()
    agent = service.headers_for(await service.add_user("agent", unit=unit))

    async def restart() -> int:
        return await terminate_backends(database_url, service.settings.service_name)

    outcomes = await through_restarts(
        {
            "list": lambda: service.client.get("/notifications", headers=agent),
            "unread": lambda: service.client.get("/notifications/unread-count", headers=agent),
            "preferences": lambda: service.client.get("/notifications/preferences", headers=agent),
            "read-all": lambda: service.client.post("/notifications/read-all", headers=agent),
        },
        restart,
        expected=(200, 204),
    )
    assert outcomes.terminated > 0
    outcomes.assert_no_server_errors()
    assert outcomes.count("list", 200) > 0 and outcomes.count("unread", 200) > 0

    assert await restart() > 0
    response = await service.client.get("/notifications", headers=agent)
    assert response.status_code == 200, response.text
