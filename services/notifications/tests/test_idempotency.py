"""Idempotency-Key on the notifications service's writes: "mark all read" sent again with
its key answers as the first time (how many it marked), without marking anything again."""

from __future__ import annotations

import uuid

from .test_inapp import five_notifications


async def test_a_repeated_read_all_replays_its_first_answer(service, tickets):
    requester, _, _ = await five_notifications(service, tickets)
    headers = {**service.headers_for(requester), "Idempotency-Key": str(uuid.uuid4())}
    first = await service.client.post("/notifications/read-all", headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["marked_read"] == 5
    again = await service.client.post("/notifications/read-all", headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # Without the key, a second request is a new one: nothing left to mark.
    plain = await service.client.post(
        "/notifications/read-all", headers=service.headers_for(requester)
    )
    assert plain.json()["marked_read"] == 0
    # The same key on another notification route is another request.
    page = (await service.client.get("/notifications", headers=headers)).json()
    one = await service.client.post(
        f"/notifications/{page['items'][0]['id']}/read", headers=headers
    )
    assert one.status_code == 422
    assert one.json()["error"]["code"] == "idempotency_key_reused"
