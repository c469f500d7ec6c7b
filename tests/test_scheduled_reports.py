"""Scheduled reports end to end: the reports service's schedule worker renders the PDF and
publishes report.generated through its outbox, over the real broker, to the notifications
service, which mails it to each recipient at a real SMTP server (aiosmtpd on loopback).

Exactly once per period: with two reports replicas on one schema, after a replica dies in
the middle of a run, and for periods missed while no replica ran.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pypdf
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi import FastAPI

import reports.schedules.worker as schedule_worker
from helpdesk_common.contracts.identity import Language, Role, UserCreated
from helpdesk_common.db import create_engine, create_sessionmaker
from helpdesk_common.directory import upsert_user
from helpdesk_common.outbox import outbox_table
from helpdesk_documents import format_date
from helpdesk_testing import app_client, eventually, free_port
from notifications.email.models import EmailDelivery
from notifications.main import create_app as create_notifications
from notifications.settings import NotificationsSettings
from reports.exports.words import word
from reports.main import create_app as create_reports
from reports.schedules.models import ReportRun, ReportSchedule
from reports.settings import ReportsSettings

JAKARTA = ZoneInfo("Asia/Jakarta")
logging.getLogger("mail.log").setLevel(logging.WARNING)

# -- a real SMTP server ------------------------------------------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd server keeping every message it accepts, by recipient."""

    port: int = field(default_factory=free_port)
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(([r.lower() for r in envelope.rcpt_tos], message))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address.lower() in rcpts]


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


# -- the services ----------------------------------------------------------------------


@dataclass
class Office:
    make_settings: Callable[..., Any]
    make_token: Callable[..., str]
    queue_prefix: str
    notifications: FastAPI

    def reports_settings(self, schema: str) -> ReportsSettings:
        settings: ReportsSettings = self.make_settings(
            ReportsSettings,
            schema=schema,
            queue_prefix=self.queue_prefix,
            rebuild_on_first_start=False,
            schedule_poll_seconds=0.2,
        )
        return settings

    @asynccontextmanager
    async def reports(self, schema: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        """One reports replica on ``schema`` (several may run on one schema)."""
        app = create_reports(self.reports_settings(schema))
        async with app_client(app) as client:
            yield app, client

    async def deliveries(self, addresses: list[str]) -> list[EmailDelivery]:
        async with self.notifications.state.runtime.sessionmaker() as session:
            return list(
                await session.scalars(
                    sa.select(EmailDelivery).where(
                        EmailDelivery.event_type == "report.generated",
                        EmailDelivery.recipient.in_(addresses),
                    )
                )
            )


@pytest.fixture(scope="module")
async def office(
    make_settings: Callable[..., Any], make_token: Callable[..., str], mailbox: Mailbox
) -> AsyncIterator[Office]:
    # Queues of this module's own: the session's other tests publish on the same exchange.
    queue_prefix = f"schedrep.{uuid.uuid4().hex[:6]}."
    settings = make_settings(
        NotificationsSettings,
        schema=f"notif_schedrep_{uuid.uuid4().hex[:6]}",
        queue_prefix=queue_prefix,
        smtp_port=mailbox.port,
        email_poll_interval=0.1,
        email_retry_delays=[0.2, 0.4],
        secret_key="a-test-secret-that-is-long-enough",
    )
    notifications = create_notifications(settings)
    async with app_client(notifications):
        await eventually(lambda: notifications.state.runtime.consumers_started, timeout=20)
        yield Office(make_settings, make_token, queue_prefix, notifications)


# -- a schedule ------------------------------------------------------------------------


@dataclass
class Person:
    user_id: uuid.UUID
    name: str
    email: str
    role: Role
    language: Language


@dataclass
class Subscription:
    schema: str
    schedule_id: uuid.UUID
    owner: Person
    recipients: list[Person]

    @property
    def addresses(self) -> list[str]:
        return [p.email for p in self.recipients]


def person(role: Role, language: Language = "id") -> Person:
    user_id = uuid.uuid4()
    return Person(
        user_id=user_id,
        name=f"{role.title()} {user_id.hex[:6]}",
        email=f"{role}-{user_id.hex[:10]}@example.test",
        role=role,
        language=language,
    )


async def subscribe(office: Office, app: FastAPI, client: httpx.AsyncClient) -> Subscription:
    """A leader's weekly summary for themselves and an English-speaking agent."""
    owner, agent = person("leader"), person("agent", "en")
    async with app.state.runtime.sessionmaker() as session, session.begin():
        for p in (owner, agent):
            await upsert_user(
                session,
                snapshot=UserCreated(
                    user_id=p.user_id,
                    username=p.email.split("@")[0],
                    full_name=p.name,
                    email=p.email,
                    role=p.role,
                    unit_id=None,
                    is_active=True,
                    language=p.language,
                    revision=1,
                    updated_at=datetime.now(UTC),
                ),
            )
    token = office.make_token("leader", user_id=owner.user_id, name=owner.name)
    response = await client.post(
        "/schedules",
        json={
            "name": "Kinerja mingguan",
            "report": "summary",
            "cadence": "weekly",
            "recipient_ids": [str(owner.user_id), str(agent.user_id)],
            "language": "id",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return Subscription(
        schema=app.state.runtime.settings.schema_name,
        schedule_id=uuid.UUID(response.json()["id"]),
        owner=owner,
        recipients=[owner, agent],
    )


def last_week() -> date:
    today = datetime.now(JAKARTA).date()
    return today - timedelta(days=today.weekday() + 7)


@asynccontextmanager
async def database(office: Office, schema: str) -> AsyncIterator[Any]:
    """The reports schema's tables, whether a replica runs or not."""
    engine = create_engine(office.reports_settings(schema), pooled=False)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def make_due(office: Office, sub: Subscription, first: date) -> None:
    """As if the period starting on ``first`` had ended and its report fell due a while ago."""
    async with (
        database(office, sub.schema) as sessionmaker,
        sessionmaker() as session,
        session.begin(),
    ):
        await session.execute(
            sa.update(ReportSchedule)
            .where(ReportSchedule.id == sub.schedule_id)
            .values(next_period_from=first, due_at=datetime.now(UTC) - timedelta(minutes=5))
        )


@dataclass
class Outcome:
    runs: list[ReportRun]
    events: int
    due_at: datetime


async def outcome(office: Office, sub: Subscription) -> Outcome:
    async with database(office, sub.schema) as sessionmaker, sessionmaker() as session:
        runs = list(
            await session.scalars(
                sa.select(ReportRun)
                .where(ReportRun.schedule_id == sub.schedule_id)
                .order_by(ReportRun.generated_at)
            )
        )
        events = await session.scalar(
            sa.select(sa.func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.event_type == "report.generated")
        )
        due_at = await session.scalar(
            sa.select(ReportSchedule.due_at).where(ReportSchedule.id == sub.schedule_id)
        )
        assert due_at is not None
        return Outcome(runs=runs, events=int(events or 0), due_at=due_at)


async def wait_mailed(office: Office, sub: Subscription, *, per_recipient: int) -> None:
    """Until the schedule waits for a period still to come and every mail of what ran
    has reached the SMTP server."""

    async def settled() -> bool:
        if (await outcome(office, sub)).due_at <= datetime.now(UTC):
            return False
        rows = await office.deliveries(sub.addresses)
        return len(rows) == per_recipient * len(sub.addresses) and all(
            r.status == "sent" for r in rows
        )

    await eventually(settled, timeout=60)


def pdf_text(message: EmailMessage) -> tuple[str | None, str]:
    (part,) = list(message.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    content = part.get_content()
    assert isinstance(content, bytes)
    reader = pypdf.PdfReader(io.BytesIO(content))
    return part.get_filename(), "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


def assert_report_mail(message: EmailMessage, sub: Subscription, first: date, to: Person) -> None:
    last = first + timedelta(days=6)
    if to.language == "en":
        assert str(message["Subject"]).startswith("Scheduled report: Kinerja mingguan (")
    else:
        assert str(message["Subject"]).startswith("Laporan terjadwal: Kinerja mingguan (")
    filename, text = pdf_text(message)
    assert filename is not None and first.isoformat() in filename
    # The PDF is in the schedule's language (Indonesian), whoever receives it.
    # The title is set in capitals.
    assert word("title.summary", "id").upper() in flat(text).upper()
    assert format_date(first, "id") in flat(text) and format_date(last, "id") in flat(text)
    assert f"Laporan terjadwal untuk {sub.owner.name}" in flat(text)


# -- the tests -------------------------------------------------------------------------


async def test_two_replicas_send_a_due_report_once(office: Office, mailbox: Mailbox) -> None:
    schema = f"reports_schedrep_{uuid.uuid4().hex[:6]}"
    async with AsyncExitStack() as stack:
        app_a, client_a = await stack.enter_async_context(office.reports(schema))
        # A second replica on the same schema, polling as often.
        await stack.enter_async_context(office.reports(schema))
        sub = await subscribe(office, app_a, client_a)
        first = last_week()
        await make_due(office, sub, first)
        await wait_mailed(office, sub, per_recipient=1)

    result = await outcome(office, sub)
    assert [(r.period_from, r.status, r.recipient_count) for r in result.runs] == [
        (first, "generated", 2)
    ]
    assert result.events == 1
    for recipient in sub.recipients:
        (message,) = mailbox.to(recipient.email)
        assert_report_mail(message, sub, first, recipient)


async def test_a_replica_dying_mid_run_leaves_nothing_and_the_next_one_sends_it(
    office: Office, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = f"reports_schedrep_{uuid.uuid4().hex[:6]}"
    first = last_week()
    rendering = asyncio.Event()
    real_render = schedule_worker.render_report_pdf

    async def render_forever(session: Any, **kwargs: Any) -> Any:
        # The run row is in (uncommitted): the replica is stopped right here.
        rendering.set()
        await asyncio.Event().wait()
        raise AssertionError("never rendered")

    async with office.reports(schema) as (app, client):
        sub = await subscribe(office, app, client)
        monkeypatch.setattr(schedule_worker, "render_report_pdf", render_forever)
        await make_due(office, sub, first)
        await asyncio.wait_for(rendering.wait(), timeout=20)
        # Mid-run, nothing of it is visible to anyone else.
        assert (await outcome(office, sub)).runs == []
    # Stopped: the transaction rolled back; the period is still due.
    stopped = await outcome(office, sub)
    assert (stopped.runs, stopped.events) == ([], 0)
    assert stopped.due_at < datetime.now(UTC)

    monkeypatch.setattr(schedule_worker, "render_report_pdf", real_render)
    async with office.reports(schema):
        await wait_mailed(office, sub, per_recipient=1)
    result = await outcome(office, sub)
    assert [(r.period_from, r.status) for r in result.runs] == [(first, "generated")]
    assert result.events == 1
    for recipient in sub.recipients:
        (message,) = mailbox.to(recipient.email)
        assert_report_mail(message, sub, first, recipient)


async def test_periods_missed_while_no_replica_ran_are_sent_oldest_first(
    office: Office, mailbox: Mailbox
) -> None:
    schema = f"reports_schedrep_{uuid.uuid4().hex[:6]}"
    async with office.reports(schema) as (app, client):
        sub = await subscribe(office, app, client)
    # Down for two weeks and a bit: two periods' reports fell due meanwhile.
    first = last_week() - timedelta(days=7)
    await make_due(office, sub, first)

    async with office.reports(schema):
        await wait_mailed(office, sub, per_recipient=2)
    result = await outcome(office, sub)
    assert [(r.period_from, r.status) for r in result.runs] == [
        (first, "generated"),
        (first + timedelta(days=7), "generated"),
    ]
    assert result.events == 2
    for recipient in sub.recipients:
        # The runs are made oldest first (above); their mails may leave in either order
        # (the sender sends several at once), so they are matched by the period they carry.
        mails = sorted(mailbox.to(recipient.email), key=lambda m: pdf_text(m)[0] or "")
        assert len(mails) == 2
        for message, period in zip(mails, (first, first + timedelta(days=7)), strict=True):
            assert_report_mail(message, sub, period, recipient)
