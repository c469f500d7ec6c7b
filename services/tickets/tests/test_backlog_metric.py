"""The open backlog metric (tickets_open{status}) counts what the database holds."""

from __future__ import annotations

from prometheus_client import REGISTRY

from helpdesk_testing import eventually
from tickets.tickets.backlog import count_open_tickets

# The worker counts every 0.1 s here instead of every minute.
WORLD_SETTINGS = {"open_backlog_metric_seconds": 0.1}


async def test_open_tickets_are_counted_per_status_and_follow_changes(world):
    runtime = world.app.state.runtime
    requester = await world.person("requester", unit_id=await world.unit())
    agent = await world.person("agent")
    assert await count_open_tickets(runtime) == {"new": 0, "in_progress": 0, "pending": 0}

    waiting, worked, done = [await world.create(requester) for _ in range(3)]
    await world.act(agent, worked, "claim")
    await world.act(agent, done, "claim")
    resolved = await world.act(agent, done, "resolve", result_summary="Toner diganti")
    assert resolved.status_code == 200, resolved.text
    assert await count_open_tickets(runtime) == {"new": 1, "in_progress": 1, "pending": 0}

    def exported(status: str) -> float | None:
        return REGISTRY.get_sample_value("tickets_open", {"status": status})

    await eventually(lambda: exported("new") == 1 and exported("in_progress") == 1)
    assert exported("pending") == 0
    assert waiting["status"] == "new"
