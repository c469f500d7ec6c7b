"""The daily digest: one mail per user and day, in their language, listing what they chose
to read that way, sent exactly once even when several workers run at the same moment."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from helpdesk_common.contracts.tickets import TicketCommented
from helpdesk_testing import eventually
from notifications.email.digest import (
    DIGEST_EVENT_TYPE,
    latest_cutoff,
    send_due_digests,
)
from notifications.email.models import DigestItem, DigestRun

JAKARTA = ZoneInfo("Asia/Jakarta")


def test_the_cutoff_is_the_latest_digest_time():
    seven = time(7, 0)
    # 06:59 in Jakarta on the 10th: the digest of the 9th (at 07:00 that day) is the latest.
    day, cutoff = latest_cutoff(datetime(2026, 12, 9, 23, 59, tzinfo=UTC), zone=JAKARTA, at=seven)
    assert str(day) == "2026-12-09" and cutoff == datetime(2026, 12, 9, 0, 0, tzinfo=UTC)
    day, cutoff = latest_cutoff(datetime(2026, 12, 10, 0, 0, tzinfo=UTC), zone=JAKARTA, at=seven)
    assert str(day) == "2026-12-10" and cutoff == datetime(2026, 12, 10, 0, 0, tzinfo=UTC)


async def comment(service, tickets, unit, requester, agent, body: str):
    ticket = tickets.snapshot(unit, requester, status="in_progress", assignee=agent)
    envelope = await service.publish(
        TicketCommented(
            ticket=ticket, actor=agent.actor(), comment_id=uuid.uuid4(), body=body, internal=False
        )
    )
    await service.wait_processed(envelope)
    return ticket


async def test_two_workers_send_each_digest_exactly_once(service, smtp_sink, tickets):
    unit = await service.add_unit()
    agent = await service.add_user("agent")
    indonesian = await service.add_user("requester", unit=unit, name="Siti Rahma")
    english = await service.add_user("requester", unit=unit, language="en", name="Grace Hopper")
    for user in (indonesian, english):
        response = await service.client.put(
            "/notifications/preferences",
            json={"items": [{"event": "commented", "in_app": True, "email": "digest"}]},
            headers=service.headers_for(user),
        )
        assert response.status_code == 200

    first = await comment(service, tickets, unit, indonesian, agent, "Teknisi datang besok.")
    second = await comment(service, tickets, unit, indonesian, agent, "Printer sudah diganti.")
    third = await comment(service, tickets, unit, english, agent, "Toner replaced.")
    # Nothing went out at once (the in-app notices did).
    assert smtp_sink.to(indonesian.email) == [] and smtp_sink.to(english.email) == []

    runtime = service.app.state.runtime
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    queued = await asyncio.gather(
        *(
            send_due_digests(
                runtime.sessionmaker,
                settings=service.settings,
                renderer=runtime.renderer,
                now=tomorrow,
            )
            for _ in range(2)
        )
    )
    # The two workers shared the work; other tests' users may have had digests too.
    assert sum(queued) >= 2

    async with service.sessionmaker() as session:
        runs = list(
            await session.scalars(
                sa.select(DigestRun).where(
                    DigestRun.user_id.in_([indonesian.user_id, english.user_id])
                )
            )
        )
        items = list(
            await session.scalars(
                sa.select(DigestItem).where(
                    DigestItem.user_id.in_([indonesian.user_id, english.user_id])
                )
            )
        )
    assert sorted(r.item_count for r in runs) == [1, 2]
    assert all(i.digest_run_id is not None for i in items) and len(items) == 3
    deliveries = [
        d
        for d in await service.deliveries(event_type=DIGEST_EVENT_TYPE)
        if d.user_id in (indonesian.user_id, english.user_id)
    ]
    assert sorted(d.recipient for d in deliveries) == sorted([indonesian.email, english.email])

    async def delivered() -> bool:
        return bool(smtp_sink.to(indonesian.email) and smtp_sink.to(english.email))

    await eventually(delivered)
    [mail] = smtp_sink.to(indonesian.email)
    assert mail.subject.startswith("Ringkasan harian Helpdesk Kominfo: 2 notifikasi (")
    assert "Yth. Siti Rahma" in mail.text
    for ticket in (first, second):
        assert f"https://helpdesk.example.test/#/tickets/{ticket.ticket_id}" in mail.text
        assert f'href="https://helpdesk.example.test/#/tickets/{ticket.ticket_id}"' in mail.html
    assert "https://helpdesk.example.test/#/account/notifications" in mail.text
    [mail] = smtp_sink.to(english.email)
    assert mail.subject.startswith("Helpdesk Kominfo daily digest: 1 notification (")
    assert third.number in mail.text and "Dear Grace Hopper" in mail.text

    # Again, the same day: nothing more.
    again = await send_due_digests(
        runtime.sessionmaker, settings=service.settings, renderer=runtime.renderer, now=tomorrow
    )
    assert again == 0
    await asyncio.sleep(0.3)
    assert len(smtp_sink.to(indonesian.email)) == 1


async def test_items_after_the_digest_time_wait_for_the_next_day(service, tickets):
    unit = await service.add_unit()
    agent = await service.add_user("agent")
    requester = await service.add_user("requester", unit=unit)
    await service.client.put(
        "/notifications/preferences",
        json={"items": [{"event": "commented", "in_app": False, "email": "digest"}]},
        headers=service.headers_for(requester),
    )
    await comment(service, tickets, unit, requester, agent, "Sedang dicek.")
    runtime = service.app.state.runtime
    # The latest digest time before now is before the item came: it waits.
    await send_due_digests(
        runtime.sessionmaker, settings=service.settings, renderer=runtime.renderer
    )
    async with service.sessionmaker() as session:
        [item] = await session.scalars(
            sa.select(DigestItem).where(DigestItem.user_id == requester.user_id)
        )
    assert item.digest_run_id is None
