"""Redelivery, SMTP outages, retries, failures an administrator retries, poison messages."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.db import create_engine
from helpdesk_common.dead_letters import peek_dead_letters
from helpdesk_common.pagination import encode_cursor
from helpdesk_testing import eventually, free_port
from notifications.email.models import EmailDelivery
from notifications.email.sender import EmailSender
from notifications.email.service import enqueue_deliveries, purge_finished
from notifications.inapp.models import Notification


async def requester_world(service):
    unit = await service.add_unit()
    return unit, await service.add_user("requester", unit=unit)


async def point_smtp_at(service, port: int) -> None:
    """Switch the running service to another SMTP port through the admin API."""
    response = await service.client.put(
        "/admin/smtp-settings",
        json={
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "sender": "Helpdesk Kominfo <helpdesk@localhost>",
        },
        headers=service.admin_headers(),
    )
    assert response.status_code == 200, response.text


async def test_a_redelivered_event_sends_one_mail(service, smtp_sink, tickets):
    unit, requester = await requester_world(service)
    envelope = EventEnvelope.wrap(tickets.created(unit, requester), producer="tickets")
    await service.publish_envelope(envelope)
    await service.publish_envelope(envelope)  # the broker may deliver an event twice
    marker = await service.publish(tickets.created(unit, requester))

    await service.wait_sent(marker)
    await service.wait_sent(envelope)
    await asyncio.sleep(0.3)
    rows = await service.deliveries(event_id=envelope.event_id, recipient=requester.email)
    assert len(rows) == 1
    numbers = [c.message["X-Helpdesk-Ticket"] for c in smtp_sink.to(requester.email)]
    assert numbers.count(envelope.payload["ticket"]["number"]) == 1


async def test_smtp_down_then_up_delivers_exactly_one_mail(service_factory, start_smtp, tickets):
    port = free_port()  # nothing listens here yet
    async with service_factory(
        schema=f"notif_outage_{uuid.uuid4().hex[:6]}",
        smtp_port=port,
        email_retry_delays=[0.3] * 40,
    ) as svc:
        unit, requester = await requester_world(svc)
        envelope = await svc.publish(tickets.created(unit, requester))

        async def retrying() -> EmailDelivery | None:
            rows = await svc.deliveries(event_id=envelope.event_id, recipient=requester.email)
            if rows and rows[0].attempts >= 2 and rows[0].status == "pending":
                return rows[0]
            return None

        delivery = await eventually(retrying)
        assert "Connect" in (delivery.last_error or "") or "refused" in (delivery.last_error or "")

        # The ticket flow is not held up meanwhile: new events are handled at once.
        agent = await svc.add_user("agent")
        later = await svc.publish(tickets.created(unit, requester))
        await svc.wait_processed(later, timeout=10)
        async with svc.sessionmaker() as session:
            assert await session.scalar(
                sa.select(sa.func.count())
                .select_from(Notification)
                .where(Notification.user_id == agent.user_id)
            )

        with start_smtp(port=port) as sink:
            await eventually(lambda: len(sink.to(requester.email)) >= 2, timeout=10)
            await svc.wait_sent(envelope)
            await asyncio.sleep(1.0)  # room for a duplicate to show up, were there one
            numbers = [c.message["X-Helpdesk-Ticket"] for c in sink.to(requester.email)]
            assert sorted(numbers) == sorted(
                [envelope.payload["ticket"]["number"], later.payload["ticket"]["number"]]
            )
        [sent] = await svc.deliveries(event_id=envelope.event_id, recipient=requester.email)
        assert sent.status == "sent" and sent.attempts > 2 and sent.last_error is None


async def test_failure_after_the_last_retry_is_shown_and_retried_by_an_admin(
    service, smtp_sink, tickets
):
    unit, requester = await requester_world(service)
    await point_smtp_at(service, free_port())
    try:
        envelope = await service.publish(tickets.created(unit, requester))

        async def failed() -> EmailDelivery | None:
            rows = await service.deliveries(event_id=envelope.event_id, recipient=requester.email)
            return rows[0] if rows and rows[0].status == "failed" else None

        delivery = await eventually(failed)
        # One first attempt plus one per configured retry delay.
        assert delivery.attempts == 1 + len(service.settings.email_retry_delays)
        assert smtp_sink.to(requester.email) == []

        listing = await service.client.get(
            "/admin/deliveries", params={"status": "failed"}, headers=service.admin_headers()
        )
        assert listing.status_code == 200
        [shown] = [i for i in listing.json()["items"] if i["id"] == str(delivery.id)]
        assert shown["recipient"] == requester.email
        assert shown["attempts"] == delivery.attempts and shown["last_error"]
        assert shown["ticket_number"] == envelope.payload["ticket"]["number"]
        counts = await service.client.get(
            "/admin/deliveries/counts", headers=service.admin_headers()
        )
        assert counts.json()["failed"] >= 1
        forbidden = await service.client.get(
            "/admin/deliveries", headers=service.headers_for(requester)
        )
        assert forbidden.status_code == 403
    finally:
        await point_smtp_at(service, smtp_sink.port)

    retried = await service.client.post(
        f"/admin/deliveries/{delivery.id}/retry", headers=service.admin_headers()
    )
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    await eventually(lambda: len(smtp_sink.to(requester.email)) == 1)

    async def marked_sent() -> EmailDelivery | None:
        # The sender writes outcomes in batches, a moment after the mails went out.
        [row] = await service.deliveries(event_id=envelope.event_id, recipient=requester.email)
        return row if row.status == "sent" else None

    done = await eventually(marked_sent, timeout=5)
    assert done.attempts == 1

    again = await service.client.post(
        f"/admin/deliveries/{delivery.id}/retry", headers=service.admin_headers()
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_failed"
    missing = await service.client.post(
        f"/admin/deliveries/{uuid.uuid4()}/retry", headers=service.admin_headers()
    )
    assert missing.status_code == 404


async def test_the_delivery_list_pages_over_every_delivery_once(service, smtp_sink):
    ticket_id = uuid.uuid4()
    async with service.sessionmaker() as session, session.begin():
        await enqueue_deliveries(
            session,
            rows=[
                {
                    "event_id": uuid.uuid4(),
                    "event_type": "ticket.commented",
                    "ticket_id": ticket_id,
                    "recipient": f"page-{n}-{uuid.uuid4().hex[:6]}@example.test",
                    "language": "id",
                    "subject": f"Uji {n}",
                    "body_text": "teks",
                    "body_html": "<p>teks</p>",
                }
                for n in range(7)
            ],
        )
    newest_first = [str(d.id) for d in reversed(await service.deliveries(ticket_id=ticket_id))]
    ids: list[str] = []
    cursor = None
    while True:
        params = {"ticket_id": str(ticket_id), "limit": 3} | ({"cursor": cursor} if cursor else {})
        response = await service.client.get(
            "/admin/deliveries", params=params, headers=service.admin_headers()
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 3
        ids += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert ids == newest_first and len(newest_first) == 7

    for bad in ("12", "abc", encode_cursor("notifications", 1)):
        invalid = await service.client.get(
            "/admin/deliveries", params={"cursor": bad}, headers=service.admin_headers()
        )
        assert invalid.status_code == 422
        assert invalid.json()["error"]["fields"][0]["field"] == "cursor"


async def test_retry_all_failed(service, smtp_sink, tickets):
    unit, requester = await requester_world(service)
    other = await service.add_user("requester", unit=unit)
    await point_smtp_at(service, free_port())
    try:
        first = await service.publish(tickets.created(unit, requester))
        second = await service.publish(tickets.created(unit, other))

        async def both_failed() -> bool:
            # Every mail of both events (agents' too), or a late one would miss the retry.
            rows = [
                *await service.deliveries(event_id=first.event_id),
                *await service.deliveries(event_id=second.event_id),
            ]
            return {requester.email, other.email} <= {r.recipient for r in rows} and all(
                r.status == "failed" for r in rows
            )

        await eventually(both_failed)
    finally:
        await point_smtp_at(service, smtp_sink.port)
    response = await service.client.post(
        "/admin/deliveries/retry-failed", headers=service.admin_headers()
    )
    assert response.status_code == 200 and response.json()["retried"] >= 2
    await service.wait_sent(first)
    await service.wait_sent(second)
    assert len(smtp_sink.to(requester.email)) == 1 and len(smtp_sink.to(other.email)) == 1


async def test_an_address_the_server_refuses_fails_without_retrying(service, smtp_sink, tickets):
    unit, requester = await requester_world(service)
    smtp_sink.refuse.add(requester.email)
    envelope = await service.publish(tickets.created(unit, requester))

    async def failed() -> EmailDelivery | None:
        rows = await service.deliveries(event_id=envelope.event_id, recipient=requester.email)
        return rows[0] if rows and rows[0].status == "failed" else None

    delivery = await eventually(failed)
    assert delivery.attempts == 1
    assert "550" in (delivery.last_error or "")


async def test_a_malformed_event_is_dead_lettered_and_the_consumer_goes_on(
    service, smtp_sink, tickets
):
    unit, requester = await requester_world(service)
    bus = service.app.state.runtime.bus
    queue = service.settings.queue_name("notifications")
    garbage_id = str(uuid.uuid4())
    await bus.publish(garbage_id, "ticket.created", "{not json")
    # A well-formed envelope whose payload breaks the contract (no ticket snapshot).
    bad = EventEnvelope(event_type="ticket.created", producer="tickets", payload={"oops": 1})
    await service.publish_envelope(bad)
    good = await service.publish(tickets.created(unit, requester))

    await service.wait_sent(good)
    assert len(smtp_sink.to(requester.email)) == 1

    async def parked() -> list | None:
        letters = await peek_dead_letters(bus, queue)
        ids = {letter.message_id for letter in letters}
        return letters if {garbage_id, str(bad.event_id)} <= ids else None

    await eventually(parked)
    response = await service.client.get(
        "/admin/dead-letters/notifications", headers=service.admin_headers()
    )
    assert response.status_code == 200
    assert {garbage_id, str(bad.event_id)} <= {d["message_id"] for d in response.json()}


async def test_several_senders_share_the_queue_and_send_each_mail_once(service, smtp_sink):
    """Replicas: three senders on one table; every mail goes out once, on reused connections."""
    extra = [
        EmailSender(
            sessionmaker=service.sessionmaker,
            settings=service.settings,
            smtp_config=service.app.state.runtime.smtp_config,
        )
        for _ in range(2)
    ]
    tasks = [asyncio.create_task(sender.run()) for sender in extra]
    event_id = uuid.uuid4()
    recipients = [f"replica-{n}-{uuid.uuid4().hex[:6]}@example.test" for n in range(120)]
    sessions_before = smtp_sink.sessions
    try:
        async with service.sessionmaker() as session, session.begin():
            await enqueue_deliveries(
                session,
                rows=[
                    {
                        "event_id": event_id,
                        "event_type": "ticket.created",
                        "recipient": address,
                        "language": "id",
                        "subject": f"Uji {n}",
                        "body_text": "teks",
                        "body_html": "<p>teks</p>",
                    }
                    for n, address in enumerate(recipients)
                ],
            )
        await eventually(lambda: all(smtp_sink.to(a) for a in recipients), timeout=15)
        await asyncio.sleep(0.5)
        for address in recipients:
            assert len(smtp_sink.to(address)) == 1, address
        rows = await service.deliveries(event_id=event_id)
        await eventually(lambda: _all_sent(service, event_id), timeout=5)
        assert len(rows) == len(recipients)
        # Kept-open connections: far fewer SMTP sessions than mails.
        assert smtp_sink.sessions - sessions_before < len(recipients) / 2
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_handed_over_and_overflowing_deliveries_each_go_out_once(service_factory, smtp_sink):
    """The app's sender takes what it has room for straight from the transaction; the rest
    waits pending and is claimed, here by two more replicas too: every mail once, first try."""
    async with service_factory(
        schema=f"notif_handoff_{uuid.uuid4().hex[:6]}",
        smtp_port=smtp_sink.port,
        email_send_concurrency=1,  # room for 4 claimed deliveries
    ) as svc:
        extra = [
            EmailSender(
                sessionmaker=svc.sessionmaker,
                settings=svc.settings,
                smtp_config=svc.app.state.runtime.smtp_config,
            )
            for _ in range(2)
        ]
        tasks = [asyncio.create_task(sender.run()) for sender in extra]
        event_id = uuid.uuid4()
        recipients = [f"handoff-{n}-{uuid.uuid4().hex[:6]}@example.test" for n in range(40)]
        try:
            async with svc.sessionmaker() as session, session.begin():
                await enqueue_deliveries(
                    session,
                    rows=[
                        {
                            "event_id": event_id,
                            "event_type": "ticket.created",
                            "recipient": address,
                            "language": "id",
                            "subject": f"Uji {n}",
                            "body_text": "teks",
                            "body_html": "<p>teks</p>",
                        }
                        for n, address in enumerate(recipients)
                    ],
                    handoff=svc.app.state.runtime.handoff,
                )
                # Claimed for this app's sender in the same transaction, as far as it has room.
                claimed = await session.scalar(
                    sa.select(sa.func.count())
                    .select_from(EmailDelivery)
                    .where(EmailDelivery.event_id == event_id, EmailDelivery.status == "sending")
                )
                assert claimed == 4
            await eventually(lambda: all(smtp_sink.to(a) for a in recipients), timeout=15)
            await eventually(lambda: _all_sent(service=svc, event_id=event_id), timeout=5)
            await asyncio.sleep(0.3)
            for address in recipients:
                assert len(smtp_sink.to(address)) == 1, address
            rows = await svc.deliveries(event_id=event_id)
            assert len(rows) == len(recipients) and all(r.attempts == 1 for r in rows)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _all_sent(service, event_id: uuid.UUID) -> bool:
    rows = await service.deliveries(event_id=event_id)
    return bool(rows) and all(r.status == "sent" for r in rows)


async def test_a_delivery_left_claimed_by_a_crashed_sender_is_sent_again(service, smtp_sink):
    address = f"orphan-{uuid.uuid4().hex[:8]}@example.test"
    async with service.sessionmaker() as session, session.begin():
        # As a sender that died mid-send leaves it: claimed, its lease already run out.
        session.add(
            EmailDelivery(
                event_id=uuid.uuid4(),
                event_type="ticket.created",
                recipient=address,
                language="id",
                subject="Yatim",
                body_text="teks",
                body_html="<p>teks</p>",
                status="sending",
                attempts=1,
                next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
            )
        )
    await eventually(lambda: len(smtp_sink.to(address)) == 1)


async def test_stopping_mid_send_is_prompt_and_hands_back_claimed_deliveries(
    service_factory, tickets
):
    class SlowServer:
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(30)  # the mail is never accepted before the service stops
            return "250 OK"

    port = free_port()
    slow = Controller(SlowServer(), hostname="127.0.0.1", port=port)
    slow.start()
    try:
        async with service_factory(
            schema=f"notif_stop_{uuid.uuid4().hex[:6]}", smtp_port=port, email_send_concurrency=2
        ) as svc:
            unit = await svc.add_unit(contact_email=f"kontak-{uuid.uuid4().hex[:6]}@example.test")
            requester = await svc.add_user("requester", unit=unit)
            envelopes = [await svc.publish(tickets.created(unit, requester)) for _ in range(3)]
            for envelope in envelopes:
                await svc.wait_processed(envelope)

            async def claimed() -> bool:
                rows = await svc.deliveries()
                return sum(r.status == "sending" for r in rows) >= 4

            await eventually(claimed)
            stopping = asyncio.get_running_loop().time()
        assert asyncio.get_running_loop().time() - stopping < 8

        engine = create_engine(svc.settings)
        try:
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(
                        sa.select(EmailDelivery.status, EmailDelivery.attempts).where(
                            EmailDelivery.event_id.in_([e.event_id for e in envelopes])
                        )
                    )
                ).all()
        finally:
            await engine.dispose()
        assert len(rows) == 6 and all(r.status == "pending" for r in rows)
        # Interrupted attempts do not count against the retry budget.
        assert all(r.attempts == 0 for r in rows)
    finally:
        slow.stop()


async def test_finished_deliveries_are_purged_after_retention(service):
    now = datetime.now(UTC)
    event_id = uuid.uuid4()

    def delivery(status: str, age_days: float) -> EmailDelivery:
        return EmailDelivery(
            event_id=event_id,
            event_type="ticket.created",
            recipient=f"{status}-{age_days}-{uuid.uuid4().hex[:6]}@example.test",
            language="id",
            subject="Lama",
            body_text="teks",
            body_html="<p>teks</p>",
            status=status,
            attempts=1,
            # Pending ones are not due yet, so the running sender leaves them alone.
            next_attempt_at=now + timedelta(hours=1),
            created_at=now - timedelta(days=age_days),
        )

    async with service.sessionmaker() as session, session.begin():
        session.add_all(
            [
                delivery("sent", 40),
                delivery("failed", 40),
                delivery("pending", 40),  # never sent yet: kept whatever its age
                delivery("sent", 1),
            ]
        )
    async with service.sessionmaker() as session, session.begin():
        assert await purge_finished(session, older_than=timedelta(days=30)) >= 2
    left = sorted(
        (d.status, round((now - d.created_at).days))
        for d in await service.deliveries(event_id=event_id)
    )
    assert left == [("pending", 40), ("sent", 1)]


# With the bug the event loop hangs until pytest-timeout interrupts the spinning loop,
# which kills the sender task; the checks below then fail.
@pytest.mark.timeout(10)
async def test_a_sender_whose_room_is_all_reserved_waits_instead_of_spinning(service, smtp_sink):
    """Handlers reserve room before their transaction commits. A claim loop that found no
    room and looped straight back never yielded: the event loop hung, and with it the very
    transactions that were to give the room back."""
    sender = EmailSender(
        sessionmaker=service.sessionmaker,
        settings=service.settings.model_copy(update={"email_poll_interval": 0.02}),
        smtp_config=service.app.state.runtime.smtp_config,
    )
    task = asyncio.create_task(sender.run())
    try:
        await asyncio.sleep(0.1)  # running, idle
        held = sender.reserve(1000)
        assert held > 0
        # The poll falls due several times while all room is held; the loop must go on.
        started = asyncio.get_running_loop().time()
        await asyncio.sleep(0.3)
        assert not task.done(), "the sender stopped"
        assert asyncio.get_running_loop().time() - started < 8, "the event loop was blocked"
        sender.release(held)
        address = f"reserved-{uuid.uuid4().hex[:8]}@example.test"
        async with service.sessionmaker() as session, session.begin():
            await enqueue_deliveries(
                session,
                rows=[
                    {
                        "event_id": uuid.uuid4(),
                        "event_type": "ticket.created",
                        "recipient": address,
                        "language": "id",
                        "subject": "Uji",
                        "body_text": "teks",
                        "body_html": "<p>teks</p>",
                    }
                ],
            )
        await eventually(lambda: smtp_sink.to(address))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
