"""The service's skeleton: it starts on its own schema, migrates, and answers its health."""

from __future__ import annotations

from .conftest import World


async def test_health_and_metrics(world: World) -> None:
    assert (await world.client.get("/health/live")).status_code == 200
    ready = await world.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    metrics = await world.client.get("/metrics")
    assert metrics.status_code == 200
    assert "events_consumed_total" in metrics.text
