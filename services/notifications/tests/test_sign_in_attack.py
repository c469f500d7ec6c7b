"""A sign-in attack on an account (user.sign_in_attacked) reaches its user and every active
administrator in the app, once, in their language; nobody else hears of it, and no mail."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.identity import UserSignInAttacked
from notifications.inapp.models import Notification


def attacked(user_id: uuid.UUID, username: str) -> UserSignInAttacked:
    detected = datetime.now(UTC)
    return UserSignInAttacked(
        user_id=user_id,
        username=username,
        failures=12,
        addresses=7,
        window_started_at=detected - timedelta(minutes=9, seconds=30),
        detected_at=detected,
    )


async def notices(service, envelope: EventEnvelope) -> dict[uuid.UUID, Notification]:
    async with service.sessionmaker() as session:
        rows = await session.scalars(
            sa.select(Notification).where(Notification.event_id == envelope.event_id)
        )
        return {row.user_id: row for row in rows}


async def test_the_user_and_every_administrator_are_told_once(service, smtp_sink):
    agent = await service.add_user("agent", name="Budi Santoso")
    admin_id = await service.add_user("admin", name="Ani Admin")
    admin_en = await service.add_user("admin", language="en", name="Rina Admin")
    retired = await service.add_user("admin", active=False)
    bystander = await service.add_user("leader")
    envelope = EventEnvelope.wrap(attacked(agent.user_id, "budi"), producer="identity")
    await service.publish_envelope(envelope)
    await service.publish_envelope(envelope)  # the broker may deliver an event twice
    await service.wait_processed(envelope)
    # A later event through the same queue is handled after the duplicate: then count.
    marker = await service.publish(attacked(bystander.user_id, "x"), producer="identity")
    await service.wait_processed(marker)

    seen = await notices(service, envelope)
    assert admin_id.user_id in seen and admin_en.user_id in seen and agent.user_id in seen
    assert retired.user_id not in seen and bystander.user_id not in seen
    # Every other active administrator of the shared test database is told too; nobody
    # is told twice (one row per event and user).
    async with service.sessionmaker() as session:
        total = await session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.event_id == envelope.event_id)
        )
    assert total == len(seen)

    mine = seen[agent.user_id]
    assert mine.title == "Percobaan masuk mencurigakan ke akun Anda"
    assert "12 percobaan masuk dengan kata sandi salah ke akun budi dari 7 alamat" in mine.body
    assert "10 menit terakhir" in mine.body and "tidak dikunci" in mine.body
    assert mine.link == "https://helpdesk.example.test/#/account"
    assert mine.addressed and mine.ticket_id is None
    assert seen[admin_id.user_id].title == "Akun budi kemungkinan diserang"
    assert "(Budi Santoso)" in seen[admin_id.user_id].body
    assert seen[admin_en.user_id].title == "Account budi may be under attack"
    assert seen[admin_en.user_id].body.endswith("The addresses are in the audit log.")
    assert seen[admin_en.user_id].link == "https://helpdesk.example.test/#/admin/audit"
    # In the app only.
    await asyncio.sleep(0.2)
    assert await service.deliveries(event_id=envelope.event_id) == []
    assert smtp_sink.to(agent.email) == [] and smtp_sink.to(admin_id.email) == []


async def test_the_notices_are_listed_for_the_user(service):
    agent = await service.add_user("agent", language="en")
    envelope = await service.publish(attacked(agent.user_id, "rina"), producer="identity")
    await service.wait_processed(envelope)
    response = await service.client.get("/notifications", headers=service.headers_for(agent))
    assert response.status_code == 200, response.text
    [item] = [i for i in response.json()["items"] if i["event_type"] == "user.sign_in_attacked"]
    assert item["title"] == "Suspicious sign-in attempts on your account"
    assert item["ticket_id"] is None and item["addressed"] is True
