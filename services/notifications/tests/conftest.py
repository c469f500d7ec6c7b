"""Fixtures: a real SMTP server (aiosmtpd on loopback), the real broker and PostgreSQL.

One notifications app runs per test module; tests keep apart by using fresh users, units
and addresses of their own, so no test sees another's mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import uuid
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any

import aio_pika
import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.identity import Language, Role, UnitCreated, UserCreated
from helpdesk_common.contracts.tickets import Actor, TicketCreated, TicketSnapshot, TicketStatus
from helpdesk_common.directory import DirectoryUnit, DirectoryUser
from helpdesk_common.outbox import inbox_table
from helpdesk_testing import app_client, eventually, free_port
from notifications.email.models import EmailDelivery
from notifications.main import create_app
from notifications.settings import NotificationsSettings

# aiosmtpd logs every SMTP command at INFO: keep test output readable.
logging.getLogger("mail.log").setLevel(logging.WARNING)

# -- a real SMTP server ------------------------------------------------------------------


@dataclass
class Caught:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        # Python folds some subjects as "Subject:\r\n <text>" (valid RFC 5322; clients trim
        # the fold's whitespace) and its parser keeps that leading space: trim it here too.
        return str(self.message["Subject"]).strip()

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return part.get_content().replace("\r\n", "\n")

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return part.get_content().replace("\r\n", "\n")


@dataclass
class SmtpSink:
    """An aiosmtpd server that keeps every message it accepts."""

    port: int
    caught: list[Caught] = field(default_factory=list)
    auth: tuple[str, str] | None = None
    controller: Controller | None = None
    # Addresses answered with "550 no such user" (a permanent refusal).
    refuse: set[str] = field(default_factory=set)
    # One EHLO per SMTP session: fewer sessions than mails means connections are reused.
    sessions: int = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname, responses):
        self.sessions += 1
        session.host_name = hostname  # aiosmtpd leaves this to a handler that hooks EHLO
        # As production MTAs do: the sender then pipelines (aiosmtpd answers in order).
        responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address, options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.caught.append(Caught(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.auth is not None:
            expected = self.auth

            def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
                from aiosmtpd.smtp import AuthResult, LoginPassword

                ok = (
                    isinstance(data, LoginPassword)
                    and (
                        data.login.decode(),
                        data.password.decode(),
                    )
                    == expected
                )
                # handled=False: let aiosmtpd answer the failure (535) itself.
                return AuthResult(success=ok, handled=False)

            # Plain-text AUTH is fine on loopback in tests; silence aiosmtpd's warning about it.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            logging.getLogger("mail.log").setLevel(logging.ERROR)
            kwargs = {
                "authenticator": authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Caught]:
        return [c for c in self.caught if address.lower() in (r.lower() for r in c.rcpt_tos)]


@contextlib.contextmanager
def smtp_server(*, port: int | None = None, auth: tuple[str, str] | None = None):
    sink = SmtpSink(port=port or free_port(), auth=auth)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
def smtp_sink() -> Any:
    with smtp_server() as sink:
        yield sink


@pytest.fixture(scope="session")
def start_smtp() -> Callable[..., Any]:
    """``with start_smtp(port=..., auth=(user, password)) as sink:`` another SMTP server."""
    return smtp_server


# -- the service -------------------------------------------------------------------------


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient
    settings: NotificationsSettings
    make_token: Callable[..., str]

    @property
    def sessionmaker(self) -> Any:
        return self.app.state.runtime.sessionmaker

    async def publish(self, payload: EventPayload, *, producer: str = "tickets") -> EventEnvelope:
        envelope = EventEnvelope.wrap(payload, producer=producer)
        await self.publish_envelope(envelope)
        return envelope

    async def publish_envelope(self, envelope: EventEnvelope) -> None:
        await self.app.state.runtime.bus.publish(
            str(envelope.event_id), envelope.event_type, envelope.model_dump_json()
        )

    async def wait_processed(self, envelope: EventEnvelope, *, timeout: float = 10.0) -> None:
        """Until the consumer has handled the event (its inbox row is committed)."""

        async def done() -> bool:
            async with self.sessionmaker() as session:
                found = await session.scalar(
                    sa.select(sa.func.count())
                    .select_from(inbox_table)
                    .where(inbox_table.c.event_id == envelope.event_id)
                )
                return bool(found)

        await eventually(done, timeout=timeout)

    async def wait_sent(self, envelope: EventEnvelope, *, timeout: float = 10.0) -> list[Any]:
        """Until every mail of the event reached the SMTP server; returns the deliveries."""
        await self.wait_processed(envelope, timeout=timeout)

        async def all_sent() -> tuple[list[EmailDelivery]] | None:
            rows = await self.deliveries(event_id=envelope.event_id)
            # A one-element tuple is truthy even when the event queued no mail at all.
            return (rows,) if all(r.status == "sent" for r in rows) else None

        (rows,) = await eventually(all_sent, timeout=timeout)
        return rows

    async def deliveries(self, **where: Any) -> list[EmailDelivery]:
        async with self.sessionmaker() as session:
            query = sa.select(EmailDelivery).order_by(EmailDelivery.seq)
            for key, value in where.items():
                query = query.where(getattr(EmailDelivery, key) == value)
            return list(await session.scalars(query))

    def token_for(self, user: Person) -> str:
        return self.make_token(
            user.role, user_id=user.user_id, unit_id=user.unit_id, name=user.name, email=user.email
        )

    def headers_for(self, user: Person) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token_for(user)}"}

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.make_token('admin', email='admin@example.test')}"}

    # Directory seeding goes through the bus, like identity's events in production.
    async def add_unit(self, *, contact_email: str | None = None, name: str = "") -> Unit:
        unit = Unit(
            unit_id=uuid.uuid4(),
            name=name or f"Dinas {uuid.uuid4().hex[:6]}",
            contact_email=contact_email,
        )
        await self.publish(
            UnitCreated(
                unit_id=unit.unit_id,
                code=unit.name[:10].upper(),
                name=unit.name,
                contact_name=f"Kontak {unit.name}" if contact_email else None,
                contact_email=contact_email,
                is_active=True,
                revision=1,
                updated_at=datetime.now(UTC),
            ),
            producer="identity",
        )
        await self.wait_for_directory(DirectoryUnit, unit.unit_id)
        return unit

    async def add_user(
        self,
        role: Role,
        *,
        unit: Unit | None = None,
        language: Language = "id",
        active: bool = True,
        with_email: bool = True,
        name: str = "",
    ) -> Person:
        user_id = uuid.uuid4()
        person = Person(
            user_id=user_id,
            role=role,
            name=name or f"{role.title()} {user_id.hex[:6]}",
            email=f"{role}-{user_id.hex[:10]}@example.test" if with_email else None,
            unit_id=unit.unit_id if unit else None,
            language=language,
        )
        await self.publish(
            UserCreated(
                user_id=user_id,
                username=f"{role}{user_id.hex[:8]}",
                full_name=person.name,
                email=person.email,
                role=role,
                unit_id=person.unit_id,
                is_active=active,
                language=language,
                revision=1,
                updated_at=datetime.now(UTC),
            ),
            producer="identity",
        )
        await self.wait_for_directory(DirectoryUser, user_id)
        return person

    async def wait_for_directory(self, model: type, key: uuid.UUID) -> None:
        async def present() -> bool:
            async with self.sessionmaker() as session:
                return await session.get(model, key) is not None

        await eventually(present)


@dataclass
class Unit:
    unit_id: uuid.UUID
    name: str
    contact_email: str | None


@dataclass
class Person:
    user_id: uuid.UUID
    role: str
    name: str
    email: str | None
    unit_id: uuid.UUID | None
    language: str

    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, name=self.name, role=self.role)


async def wait_consuming(app: FastAPI, queue: str, *, timeout: float = 20.0) -> None:
    """Until the service consumes its queue: events published earlier would be lost."""
    bus = app.state.runtime.bus
    await asyncio.wait_for(bus.wait_connected(), timeout)

    async def has_consumer() -> bool:
        channel = await bus.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
            return (declared.declaration_result.consumer_count or 0) > 0
        except aio_pika.exceptions.ChannelClosed:
            return False
        finally:
            if not channel.is_closed:
                await channel.close()

    await eventually(has_consumer, timeout=timeout, interval=0.1)


@contextlib.asynccontextmanager
async def running_service(
    make_settings: Callable[..., Any],
    make_token: Callable[..., str],
    *,
    schema: str,
    **overrides: Any,
) -> AsyncIterator[Service]:
    values: dict[str, Any] = {
        # A queue of this app's own: no other test app competes for its messages.
        "queue_prefix": f"test.{uuid.uuid4().hex[:8]}.",
        "email_retry_delays": [0.2, 0.4],
        "email_poll_interval": 0.1,
        "smtp_timeout": 3.0,
        "smtp_settings_refresh_seconds": 0.2,
        "web_base_url": "https://helpdesk.example.test",
        "secret_key": "a-test-secret-that-is-long-enough",
    }
    values.update(overrides)
    settings = make_settings(NotificationsSettings, schema=schema, **values)
    app = create_app(settings)
    async with app_client(app) as client:
        await wait_consuming(app, settings.queue_name("notifications"))
        await wait_consuming(app, settings.queue_name("notifications.directory"))
        yield Service(app=app, client=client, settings=settings, make_token=make_token)


@pytest.fixture(scope="session")
def service_factory(make_settings, make_token) -> Callable[..., Any]:
    """``async with service_factory(schema=..., **settings) as svc:`` an app of one's own."""

    def factory(*, schema: str, **overrides: Any) -> Any:
        return running_service(make_settings, make_token, schema=schema, **overrides)

    return factory


@pytest.fixture(scope="module")
async def service(make_settings, make_token, smtp_sink, request) -> AsyncIterator[Service]:
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    async with running_service(
        make_settings,
        make_token,
        schema=f"notif_{module}_{uuid.uuid4().hex[:6]}",
        smtp_port=smtp_sink.port,
    ) as svc:
        yield svc


# -- tickets -----------------------------------------------------------------------------


def snapshot(
    unit: Unit,
    requester: Person | None,
    *,
    status: TicketStatus = "new",
    assignee: Person | None = None,
    title: str = "Printer di ruang rapat tidak bisa mencetak",
    number: str | None = None,
    version: int = 1,
    **extra: Any,
) -> TicketSnapshot:
    return TicketSnapshot(
        ticket_id=extra.pop("ticket_id", None) or uuid.uuid4(),
        number=number or f"TKT-2026-{uuid.uuid4().int % 1_000_000:06d}",
        title=title,
        status=status,
        priority="high",
        category_name="Perangkat keras",
        unit_id=unit.unit_id,
        unit_name=unit.name,
        requester_id=requester.user_id if requester else None,
        requester_name=requester.name if requester else None,
        assignee_id=assignee.user_id if assignee else None,
        assignee_name=assignee.name if assignee else None,
        created_at=datetime.now(UTC),
        version=version,
        **extra,
    )


def created(unit: Unit, requester: Person, **kwargs: Any) -> TicketCreated:
    return TicketCreated(ticket=snapshot(unit, requester, **kwargs), actor=requester.actor())


@pytest.fixture(scope="session")
def tickets() -> SimpleNamespace:
    """``tickets.snapshot(unit, requester, ...)`` and ``tickets.created(unit, requester)``."""
    return SimpleNamespace(snapshot=snapshot, created=created)
