"""In-app notifications through the API: the list, unread count, marking read."""

from __future__ import annotations

import uuid

import pytest

from helpdesk_common.contracts.tickets import TicketStatus, TicketStatusChanged
from helpdesk_common.pagination import encode_cursor
from notifications.inapp.service import add_notifications


async def five_notifications(service, tickets):
    unit = await service.add_unit()
    requester = await service.add_user("requester", unit=unit)
    agent = await service.add_user("agent")
    ticket = tickets.snapshot(unit, requester, assignee=agent)
    changes: list[tuple[TicketStatus, TicketStatus]] = [
        ("new", "in_progress"),
        ("in_progress", "pending"),
        ("pending", "in_progress"),
        ("in_progress", "pending"),
        ("pending", "in_progress"),
    ]
    for n, (before, after) in enumerate(changes):
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
    # Their own ticket's status: addressed to them personally.
    assert newest["addressed"] is True and page["addressed_unread_count"] == 5

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
    assert first["next_cursor"] and second["next_cursor"] and third["next_cursor"] is None

    # Mark one read: idempotent, counted.
    target = page["items"][2]["id"]
    marked = await service.client.post(f"/notifications/{target}/read", headers=headers)
    assert marked.status_code == 200 and marked.json()["is_read"] is True
    again = await service.client.post(f"/notifications/{target}/read", headers=headers)
    assert again.json()["read_at"] == marked.json()["read_at"]
    count = await service.client.get("/notifications/unread-count", headers=headers)
    assert count.json() == {"unread_count": 4, "addressed_unread_count": 4}
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
    assert all_read.json() == {"marked_read": 4, "unread_count": 0, "addressed_unread_count": 0}
    final = (await service.client.get("/notifications", headers=headers)).json()
    assert final["unread_count"] == 0 and all(i["is_read"] for i in final["items"])


async def test_notifications_need_a_token_and_valid_input(service):
    assert (await service.client.get("/notifications")).status_code == 401
    headers = {"Authorization": f"Bearer {service.make_token('requester')}"}
    too_many = await service.client.get("/notifications?limit=1000", headers=headers)
    assert too_many.status_code == 422
    missing = await service.client.post(f"/notifications/{uuid.uuid4()}/read", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_paging_returns_every_notification_exactly_once(service):
    user_id = uuid.uuid4()
    headers = {"Authorization": f"Bearer {service.make_token('requester', user_id=user_id)}"}
    async with service.sessionmaker() as session, session.begin():
        await add_notifications(
            session,
            rows=[
                {
                    "user_id": user_id,
                    "event_id": uuid.uuid4(),
                    "event_type": "ticket.commented",
                    "title": f"Catatan {n}",
                    "body": "isi",
                }
                for n in range(7)
            ],
        )
    everything = (await service.client.get("/notifications", headers=headers)).json()
    assert len(everything["items"]) == 7 and everything["next_cursor"] is None
    expected = [i["id"] for i in everything["items"]]
    # Every third one read: the unread listing pages over a filtered set.
    for n in (0, 3, 6):
        read = await service.client.post(f"/notifications/{expected[n]}/read", headers=headers)
        assert read.status_code == 200

    async def all_pages(**query: str) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            params = {**query, "limit": 3} | ({"cursor": cursor} if cursor else {})
            response = await service.client.get("/notifications", params=params, headers=headers)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 3 and page["unread_count"] == 4
            ids += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids
            # Opaque to clients: not the bare number it used to be.
            assert not cursor.isdigit()

    assert await all_pages() == expected
    unread = [i for n, i in enumerate(expected) if n not in (0, 3, 6)]
    assert await all_pages(unread="true") == unread


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",
        "5",  # the bare number cursors used to be
        "!!!",
        encode_cursor("deliveries", 5),  # another listing's
        encode_cursor("notifications", "5"),
        encode_cursor("notifications", -1),
        encode_cursor("notifications", 2**70),
        encode_cursor("notifications", 5, 6),
        "x" * 501,
    ],
)
async def test_a_malformed_cursor_is_a_422_naming_the_cursor(service, cursor):
    headers = {"Authorization": f"Bearer {service.make_token('requester')}"}
    response = await service.client.get(
        "/notifications", params={"cursor": cursor}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "cursor"
