"""In-app notifications through the API: the list, unread count, marking read."""

from __future__ import annotations

import uuid

from helpdesk_common.contracts.tickets import TicketStatusChanged


async def five_notifications(service, tickets):
    unit = await service.add_unit()
    requester = await service.add_user("requester", unit=unit)
    agent = await service.add_user("agent")
    ticket = tickets.snapshot(unit, requester, assignee=agent)
    for n, (before, after) in enumerate(
        [
            ("new", "in_progress"),
            ("in_progress", "pending"),
            ("pending", "in_progress"),
            ("in_progress", "pending"),
            ("pending", "in_progress"),
        ]
    ):
        snapshot = ticket.model_copy(update={"status": after, "version": n + 2})
        envelope = await service.publish(
            TicketStatusChanged(
                ticket=snapshot, actor=agent.actor(), from_status=before, to_status=after
            )
        )
        # One at a time: the consumer handles events concurrently, and this test is about
        # the list's order.
        await service.wait_processed(envelope)
    return requester, agent, ticket


async def test_list_pages_and_read_state(service, tickets):
    requester, agent, ticket = await five_notifications(service, tickets)
    headers = service.headers_for(requester)

    response = await service.client.get("/notifications", headers=headers)
    assert response.status_code == 200
    page = response.json()
    assert page["unread_count"] == 5 and page["next_cursor"] is None
    assert len(page["items"]) == 5
    newest = page["items"][0]
    assert newest["event_type"] == "ticket.status_changed"
    assert newest["ticket_number"] == ticket.number
    assert newest["title"] == f"[{ticket.number}] Status tiket: Diproses - {ticket.title}"
    assert newest["body"].startswith("Status berubah dari Tertunda menjadi Diproses")
    assert newest["link"] == f"https://helpdesk.example.test/#/tickets/{ticket.ticket_id}"
    assert newest["is_read"] is False and newest["read_at"] is None

    # Cursor paging, newest first, no overlap.
    first = (await service.client.get("/notifications?limit=2", headers=headers)).json()
    second = (
        await service.client.get(
            f"/notifications?limit=2&cursor={first['next_cursor']}", headers=headers
        )
    ).json()
    third = (
        await service.client.get(
            f"/notifications?limit=2&cursor={second['next_cursor']}", headers=headers
        )
    ).json()
    ids = [i["id"] for p in (first, second, third) for i in p["items"]]
    assert ids == [i["id"] for i in page["items"]]
    assert third["next_cursor"] is None

    # Mark one read: idempotent, counted.
    target = page["items"][2]["id"]
    marked = await service.client.post(f"/notifications/{target}/read", headers=headers)
    assert marked.status_code == 200 and marked.json()["is_read"] is True
    again = await service.client.post(f"/notifications/{target}/read", headers=headers)
    assert again.json()["read_at"] == marked.json()["read_at"]
    count = await service.client.get("/notifications/unread-count", headers=headers)
    assert count.json() == {"unread_count": 4}
    unread = (await service.client.get("/notifications?unread=true", headers=headers)).json()
    assert target not in [i["id"] for i in unread["items"]] and len(unread["items"]) == 4

    # Someone else cannot read (or learn about) this user's notification.
    other = await service.client.post(
        f"/notifications/{target}/read", headers=service.headers_for(agent)
    )
    assert other.status_code == 404
    assert (await service.client.get("/notifications", headers=service.headers_for(agent))).json()[
        "items"
    ] == []

    # Mark all read.
    all_read = await service.client.post("/notifications/read-all", headers=headers)
    assert all_read.json() == {"marked_read": 4, "unread_count": 0}
    final = (await service.client.get("/notifications", headers=headers)).json()
    assert final["unread_count"] == 0 and all(i["is_read"] for i in final["items"])


async def test_notifications_need_a_token_and_valid_input(service):
    assert (await service.client.get("/notifications")).status_code == 401
    headers = {"Authorization": f"Bearer {service.make_token('requester')}"}
    bad_cursor = await service.client.get("/notifications?cursor=abc", headers=headers)
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["error"]["fields"][0]["field"] == "cursor"
    too_many = await service.client.get("/notifications?limit=1000", headers=headers)
    assert too_many.status_code == 422
    missing = await service.client.post(f"/notifications/{uuid.uuid4()}/read", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
