"""A database restart (every connection terminated) while leaders read their figures:
503s at worst, never a 500, and the figures answer right after."""

from __future__ import annotations

from helpdesk_testing.outages import terminate_backends, through_restarts

from .conftest import Reports


async def test_a_database_restart_gives_no_500_and_reads_work_right_after(
    reports: Reports, database_url: str
) -> None:
    leader = reports.headers("leader")
    admin = reports.headers("admin")

    async def restart() -> int:
        return await terminate_backends(database_url, reports.settings.service_name)

    outcomes = await through_restarts(
        {
            "summary": lambda: reports.client.get("/summary", headers=leader),
            "trend": lambda: reports.client.get("/trend", headers=leader),
            "breakdown": lambda: reports.client.get(
                "/breakdown", params={"by": "unit"}, headers=leader
            ),
            "schedules": lambda: reports.client.get("/schedules", headers=admin),
        },
        restart,
    )
    assert outcomes.terminated > 0
    outcomes.assert_no_server_errors()
    assert outcomes.count("summary", 200) > 0 and outcomes.count("schedules", 200) > 0

    assert await restart() > 0
    response = await reports.client.get("/summary", headers=leader)
    assert response.status_code == 200, response.text
