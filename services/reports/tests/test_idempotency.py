"""Idempotency-Key on the reports service's writes: a repeated subscription is one
schedule, the first answer replayed."""

from __future__ import annotations

import asyncio
import uuid

from .conftest import Reports
from .test_schedules_api import Caller, body, person


async def test_a_repeated_subscription_is_one_schedule(reports: Reports) -> None:
    leader = Caller(reports, "leader")
    recipients = [await person(reports, "leader")]
    key = {"Idempotency-Key": str(uuid.uuid4())}
    request = body(recipients, name=f"Sekali {uuid.uuid4().hex[:6]}")
    answers = await asyncio.gather(
        *(
            reports.client.post("/schedules", json=request, headers={**leader.headers, **key})
            for _ in range(3)
        )
    )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 2
    mine = await leader.call("GET", "/schedules")
    assert [s["id"] for s in mine.json()["items"]] == [answers[0].json()["id"]]

    # The key names that subscription: another one with it is refused, none is added.
    other = {**request, "cadence": "monthly"}
    refused = await reports.client.post("/schedules", json=other, headers={**leader.headers, **key})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "idempotency_key_reused"
    assert len((await leader.call("GET", "/schedules")).json()["items"]) == 1
