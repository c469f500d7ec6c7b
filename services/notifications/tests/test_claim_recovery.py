"""No mail waits for its claim's lease (300 s here) while the sender that claimed it lives or
stops cleanly: a stopping sender hands back what it holds and what handlers commit while it
stops; rows claimed for a sender whose commit answer was lost are taken back in seconds.
Rows another sender claimed are never touched."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy.exc import DBAPIError

from helpdesk_common.db import create_engine, create_sessionmaker, driver_connection
from helpdesk_testing import eventually, free_port
from helpdesk_testing.env import PG_ADMIN_DSN
from notifications.email.models import EmailDelivery
from notifications.email.sender import ORPHAN_AFTER_SECONDS, EmailSender
from notifications.email.service import Handoff, enqueue_deliveries
from notifications.settings_admin.service import SmtpConfigStore

# Far beyond what any test below waits: a mail that went out did not wait for the lease.
LEASE_SECONDS = 300.0


def mail_rows(event_id: uuid.UUID, addresses: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "event_id": event_id,
            "event_type": "ticket.created",
            "recipient": address,
            "language": "id",
            "subject": f"Uji {n}",
            "body_text": "teks",
            "body_html": "<p>teks</p>",
        }
        for n, address in enumerate(addresses)
    ]


def addresses(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n}-{uuid.uuid4().hex[:6]}@example.test" for n in range(count)]


@asynccontextmanager
async def running(sender: EmailSender) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(sender.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def smtp_store(service: Any, sessionmaker: Any, port: int) -> SmtpConfigStore:
    return SmtpConfigStore(
        sessionmaker=sessionmaker,
        settings=service.settings.model_copy(update={"smtp_port": port}),
        cipher=service.app.state.runtime.cipher,
    )


async def rows_of(sessionmaker: Any, event_id: uuid.UUID) -> list[EmailDelivery]:
    async with sessionmaker() as session:
        return list(
            await session.scalars(
                sa.select(EmailDelivery)
                .where(EmailDelivery.event_id == event_id)
                .order_by(EmailDelivery.seq)
            )
        )


async def all_sent(sessionmaker: Any, event_id: uuid.UUID) -> bool:
    rows = await rows_of(sessionmaker, event_id)
    return bool(rows) and all(r.status == "sent" for r in rows)


async def test_a_stop_hands_back_what_the_sender_holds_and_a_new_sender_sends_each_once(
    service_factory, smtp_sink
):
    """The app's sender holds deliveries in memory (its SMTP server never answers); the app
    stops: they are due at once, and a sender started after it sends each exactly once."""

    class SilentServer:
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(30)  # never answers before the app stops
            return "250 OK"

    port = free_port()
    silent = Controller(SilentServer(), hostname="127.0.0.1", port=port)
    silent.start()
    event_id = uuid.uuid4()
    recipients = addresses("stop", 4)
    try:
        async with service_factory(
            schema=f"notif_release_{uuid.uuid4().hex[:6]}",
            smtp_port=port,
            email_send_concurrency=1,  # room for 4: all of them, one stuck mid-send
            smtp_timeout=60.0,  # the stuck send never times out before the stop
        ) as svc:
            async with svc.sessionmaker() as session, session.begin():
                await enqueue_deliveries(
                    session,
                    rows=mail_rows(event_id, recipients),
                    handoff=svc.app.state.runtime.handoff,
                )
            held = await rows_of(svc.sessionmaker, event_id)
            claimer = svc.app.state.runtime.email_sender.claimer
            assert [(r.status, r.claimed_by) for r in held] == [("sending", claimer)] * 4
            assert all(r.next_attempt_at > datetime.now(UTC) + timedelta(seconds=200) for r in held)
            stopping = asyncio.get_running_loop().time()
        assert asyncio.get_running_loop().time() - stopping < 8

        engine = create_engine(svc.settings)
        sessionmaker = create_sessionmaker(engine)
        try:
            released = await rows_of(sessionmaker, event_id)
            async with sessionmaker() as session:
                now = await session.scalar(sa.select(sa.func.now()))
            assert now is not None
            assert [(r.status, r.claimed_by, r.attempts) for r in released] == [
                ("pending", None, 0)
            ] * 4
            assert all(r.next_attempt_at <= now for r in released)

            successor = EmailSender(
                sessionmaker=sessionmaker,
                settings=svc.settings,
                smtp_config=smtp_store(svc, sessionmaker, smtp_sink.port),
            )
            async with running(successor):
                await eventually(lambda: all_sent(sessionmaker, event_id), timeout=5)
                await asyncio.sleep(0.3)
            for address in recipients:
                assert len(smtp_sink.to(address)) == 1, address
            assert all(r.attempts == 1 for r in await rows_of(sessionmaker, event_id))
        finally:
            await engine.dispose()
    finally:
        silent.stop()


async def test_a_handler_that_commits_while_the_sender_stops_has_its_mail_sent_at_once(
    service, smtp_sink
):
    """A handler reserved room and inserted its deliveries claimed for a sender that is told
    to stop before the handler commits: the sender waits for that commit, then sends or hands
    back the rows; either way the mail goes out in seconds, once."""
    handoff = Handoff()
    sender = EmailSender(
        sessionmaker=service.sessionmaker,
        settings=service.settings,
        smtp_config=service.app.state.runtime.smtp_config,
        handoff=handoff,
    )
    event_id = uuid.uuid4()
    recipients = addresses("settle", 2)
    async with running(sender) as task:
        await eventually(lambda: handoff.outlet is sender)
        async with service.sessionmaker() as session, session.begin():
            await enqueue_deliveries(session, rows=mail_rows(event_id, recipients), handoff=handoff)
            claimed_by = await session.scalars(
                sa.select(EmailDelivery.claimed_by).where(EmailDelivery.event_id == event_id)
            )
            assert list(claimed_by) == [sender.claimer] * 2
            task.cancel()  # the sender is told to stop while this transaction is open
            await asyncio.sleep(0.3)
            assert not task.done(), "the sender stopped before the handler committed"
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), timeout=8)
    # Sent by it before it stopped, or handed back and sent by the app's own sender.
    await eventually(lambda: all_sent(service.sessionmaker, event_id), timeout=5)
    await asyncio.sleep(0.3)
    for address in recipients:
        assert len(smtp_sink.to(address)) == 1, address


async def test_rows_committed_although_the_commit_failed_are_sent_within_seconds_once(
    service, smtp_sink
):
    """The server committed the handler's transaction but the answer never came back (here:
    COMMIT sent on the driver connection, the connection terminated as a PostgreSQL restart
    does, then the handler fails): nothing hands the rows to the sender, which takes them
    back itself once they are a few seconds old, and the room the handler reserved comes
    back although no rollback succeeded. A row another sender claimed stays untouched."""
    sender = service.app.state.runtime.email_sender
    handoff = service.app.state.runtime.handoff
    event_id = uuid.uuid4()
    recipients = addresses("lost-commit", 3)
    other = uuid.uuid4()
    # Claimed by another live sender a while ago: its lease still runs.
    lease_end = datetime.now(UTC) + timedelta(seconds=LEASE_SECONDS - 30)
    foreign_address = f"foreign-{uuid.uuid4().hex[:6]}@example.test"
    foreign = EmailDelivery(
        event_id=event_id,
        event_type="ticket.created",
        recipient=foreign_address,
        language="id",
        subject="Milik pengirim lain",
        body_text="teks",
        body_html="<p>teks</p>",
        status="sending",
        attempts=1,
        claimed_by=other,
        next_attempt_at=lease_end,
    )
    async with service.sessionmaker() as session, session.begin():
        session.add(foreign)

    class AnswerLost(Exception):
        pass

    reserved_before = sender.reserved
    with contextlib.suppress(AnswerLost, DBAPIError):
        async with service.sessionmaker() as session, session.begin():
            await enqueue_deliveries(session, rows=mail_rows(event_id, recipients), handoff=handoff)
            assert sender.reserved == reserved_before + 3
            connection = await driver_connection(session)
            await connection.execute("COMMIT")
            admin = await asyncpg.connect(PG_ADMIN_DSN)
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", connection.get_server_pid())
            finally:
                await admin.close()
            raise AnswerLost
    assert sender.reserved == reserved_before
    started = asyncio.get_running_loop().time()
    rows = await rows_of(service.sessionmaker, event_id)
    mine = [r for r in rows if r.claimed_by != other]
    assert [(r.status, r.claimed_by) for r in mine] == [("sending", sender.claimer)] * 3
    assert not any(smtp_sink.to(address) for address in recipients)

    async def mine_sent() -> bool:
        rows = await rows_of(service.sessionmaker, event_id)
        return all(r.status == "sent" for r in rows if r.claimed_by != other)

    await eventually(mine_sent, timeout=ORPHAN_AFTER_SECONDS + 10)
    assert asyncio.get_running_loop().time() - started < ORPHAN_AFTER_SECONDS + 10
    await asyncio.sleep(0.5)
    for address in recipients:
        assert len(smtp_sink.to(address)) == 1, address
    rows = await rows_of(service.sessionmaker, event_id)
    assert all(r.attempts == 1 for r in rows if r.claimed_by != other)
    (untouched,) = [r for r in rows if r.claimed_by == other]
    assert (untouched.status, untouched.attempts) == ("sending", 1)
    assert untouched.next_attempt_at == lease_end
    assert not smtp_sink.to(foreign_address)
