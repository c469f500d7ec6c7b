"""The consumer plans a batch of ticket events together (recipients read for all of them,
rows written in one statement per table): a batch of several tickets' events must give the
very mails, digest lines and in-app notices the same events give one by one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from helpdesk_common.consumer import handle_batch, handle_once
from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.tickets import (
    Actor,
    TicketAssigned,
    TicketClosed,
    TicketCommented,
    TicketCreated,
    TicketEscalated,
    TicketEvent,
    TicketReopened,
    TicketResolved,
    TicketSlaBreached,
    TicketStatusChanged,
)
from notifications.consumer import build_consumer
from notifications.email.models import DigestItem, EmailDelivery
from notifications.email.rendering import TEMPLATES, Renderer
from notifications.inapp.models import Notification
from notifications.preferences.models import NotificationPreference
from notifications.routing.recipients import Recipient

DELIVERY_FIELDS = (
    "event_type",
    "ticket_id",
    "ticket_number",
    "recipient",
    "recipient_name",
    "user_id",
    "language",
    "subject",
    "body_text",
    "body_html",
)
IN_APP_FIELDS = ("user_id", "event_type", "ticket_id", "title", "body", "link", "addressed")
DIGEST_FIELDS = ("user_id", "event_type", "ticket_id", "title", "summary", "link")


async def test_a_batch_queues_what_the_events_queue_one_by_one(
    service_factory, smtp_sink, tickets
) -> None:
    async with service_factory(
        schema=f"notif_batch_{uuid.uuid4().hex[:6]}", smtp_port=smtp_sink.port
    ) as service:
        payloads = await _events_of_two_tickets(service, tickets)
        consumer = build_consumer(
            settings=service.settings, renderer=Renderer(timezone=service.settings.timezone)
        )
        queue = f"batch-test-{uuid.uuid4().hex[:6]}"

        def wrapped() -> list[Any]:
            return [
                (consumer.handlers[p.event_type], EventEnvelope.wrap(p, producer="tickets"), p)
                for p in payloads
            ]

        alone, together = wrapped(), wrapped()
        for handler, envelope, payload in alone:
            await handle_once(
                service.sessionmaker, queue, handler, envelope, payload, flush=consumer.flush
            )
        ran = await handle_batch(service.sessionmaker, queue, together, flush=consumer.flush)
        assert all(ran)

        one_by_one = await _queued(service, [envelope for _, envelope, _ in alone])
        batched = await _queued(service, [envelope for _, envelope, _ in together])
        assert batched == one_by_one
        deliveries, in_app, digest = one_by_one
        # The case is not empty: every channel and both languages are in it.
        assert sum(map(len, deliveries)) >= 15 and sum(map(len, in_app)) >= 10
        assert sum(map(len, digest)) >= 1
        assert {row[DELIVERY_FIELDS.index("language")] for e in deliveries for row in e} == {
            "id",
            "en",
        }

        # A batch redelivered adds nothing (the inbox, and the rows' unique keys behind it).
        again = await handle_batch(service.sessionmaker, queue, together, flush=consumer.flush)
        assert not any(again)
        assert await _queued(service, [envelope for _, envelope, _ in together]) == batched


async def _events_of_two_tickets(service, tickets) -> list[TicketEvent]:
    """Two tickets' lives, with agents of both languages, a digest reader, a user who wants
    no mail of assignments, a leader and a unit contact."""
    unit = await service.add_unit(contact_email=f"kontak-{uuid.uuid4().hex[:8]}@example.test")
    requester = await service.add_user("requester", unit=unit, name="Siti <Rahma> & Co")
    english_requester = await service.add_user("requester", unit=unit, language="en")
    agent = await service.add_user("agent", name="Budi Santoso")
    english_agent = await service.add_user("agent", language="en", name="Grace O'Hopper")
    digest_agent = await service.add_user("agent", name="Dewi Digest")
    await service.add_user("leader", language="en")
    await service.add_user("agent", with_email=False, name="")
    async with service.sessionmaker() as session, session.begin():
        await session.execute(
            pg_insert(NotificationPreference).values(
                [
                    {"user_id": digest_agent.user_id, "event": "created", "in_app": True,
                     "email": "digest"},
                    {"user_id": english_agent.user_id, "event": "assigned", "in_app": False,
                     "email": "off"},
                ]
            )
        )  # fmt: skip
    events: list[TicketEvent] = []
    for who, holder in ((requester, english_agent), (english_requester, agent)):
        created = tickets.created(unit, who, title="Printer <lantai 2> & scanner")
        held = created.ticket.model_copy(
            update={
                "status": "in_progress",
                "assignee_id": holder.user_id,
                "assignee_name": holder.name,
            }
        )
        done = held.model_copy(update={"status": "resolved"})
        admin_actor = agent.actor() if holder is not agent else english_agent.actor()
        due = datetime.now(UTC) + timedelta(hours=1)
        events += [
            created,
            TicketAssigned(
                ticket=held,
                actor=admin_actor,
                assignee_id=holder.user_id,
                assignee_name=holder.name,
            ),
            TicketStatusChanged(
                ticket=held, actor=holder.actor(), from_status="new", to_status="in_progress"
            ),
            TicketCommented(
                ticket=held,
                actor=who.actor(),
                comment_id=uuid.uuid4(),
                body="Sudah saya coba **restart**, tetap <tidak> bisa",
                internal=False,
            ),
            TicketCommented(
                ticket=held,
                actor=holder.actor(),
                comment_id=uuid.uuid4(),
                body="Catatan internal: ganti _toner_",
                internal=True,
            ),
            TicketSlaBreached(ticket=held, actor=holder.actor(), target="resolution", due_at=due),
            TicketEscalated(
                ticket=held, actor=holder.actor(), target="resolution", reason="Lewat batas"
            ),
            TicketResolved(ticket=done, actor=holder.actor(), result_summary="Toner diganti"),
            TicketStatusChanged(
                ticket=done, actor=holder.actor(), from_status="in_progress", to_status="resolved"
            ),
            TicketReopened(ticket=held, actor=who.actor(), reason="Masih rusak"),
            TicketClosed(ticket=done, actor=holder.actor(), automatic=True),
        ]
    return events


async def _queued(service, envelopes: list[EventEnvelope]) -> tuple[list[Any], ...]:
    """Per event (in order): its mails, in-app notices and digest lines, sorted."""

    async def rows(model: Any, fields: tuple[str, ...]) -> list[list[tuple[Any, ...]]]:
        async with service.sessionmaker() as session:
            found = (
                await session.execute(
                    sa.select(model.event_id, *(getattr(model, f) for f in fields)).where(
                        model.event_id.in_([e.event_id for e in envelopes])
                    )
                )
            ).all()
        by_event: dict[uuid.UUID, list[tuple[Any, ...]]] = {}
        for event_id, *values in found:
            by_event.setdefault(event_id, []).append(tuple(values))
        return [sorted(by_event.get(e.event_id, []), key=repr) for e in envelopes]

    return (
        await rows(EmailDelivery, DELIVERY_FIELDS),
        await rows(Notification, IN_APP_FIELDS),
        await rows(DigestItem, DIGEST_FIELDS),
    )


# -- rendering once for recipients who differ only in their name ------------------------


def _context(tickets: Any) -> dict[str, Any]:
    unit = SimpleNamespace(unit_id=uuid.uuid4(), name="Dinas <Kominfo>")
    requester = SimpleNamespace(user_id=uuid.uuid4(), name="Siti & <Rahma>")
    actor = Actor(user_id=requester.user_id, name=requester.name, role="requester")
    created = TicketCreated(ticket=tickets.snapshot(unit, requester), actor=actor)
    return {
        "ticket": created.ticket,
        "event": created,
        "actor": actor,
        "brand": "Helpdesk",
        "link": "https://helpdesk.example.test/#/tickets/1",
    }


def _recipients() -> list[Recipient]:
    return [
        Recipient("requester", 'Siti <b>Rahma</b> & "Co"', "id", "a@example.test", uuid.uuid4()),
        Recipient("unit_contact", "Kontak Dinas", "id", "b@example.test", None),
        Recipient("agent", "Budi", "id", "c@example.test", uuid.uuid4()),
        Recipient("agent", "Grace O'Hopper", "en", "d@example.test", uuid.uuid4()),
        Recipient("agent", "", "id", "e@example.test", uuid.uuid4()),
        Recipient("agent", "Ana\nBaris", "xx", "f@example.test", uuid.uuid4()),
    ]


def _each_and_alone(renderer: Renderer, context: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The "created" mails of every sample recipient rendered together, and one by one."""
    recipients = _recipients()
    each = renderer.render_each("created", recipients=recipients, context=context)
    alone = [
        renderer.render("created", language=r.language, context={**context, "recipient": r})
        for r in recipients
    ]
    return each, alone


def test_rendering_once_per_kind_of_recipient_gives_each_their_own_mail(tickets) -> None:
    renderer = Renderer()
    each, alone = _each_and_alone(renderer, _context(tickets))
    assert each == alone
    assert "Siti &lt;b&gt;Rahma&lt;/b&gt;" in each[0].html and "Siti <b>Rahma</b>" in each[0].text


def test_a_name_used_otherwise_than_printed_is_rendered_per_recipient(tmp_path, tickets) -> None:
    # A template that tests or filters the name cannot share its render: each gets their own.
    for language in ("id", "en"):
        folder = tmp_path / language
        folder.mkdir()
        for name in ("_layout.txt", "_layout.html", "_ticket.txt", "_ticket.html"):
            (folder / name).write_text((TEMPLATES / language / name).read_text())
        (folder / "created.txt").write_text(
            '{% set subject = "Hi" %}{% set summary = "S" %}'
            "{% if recipient.name %}{{ recipient.name | upper }}{% else %}-{% endif %}\n"
        )
        (folder / "created.html").write_text("<p>{{ recipient.name[:3] }}</p>\n")
    renderer = Renderer(templates=Path(tmp_path))
    each, alone = _each_and_alone(renderer, _context(tickets))
    assert each == alone
    assert each[4].text.strip() == "-" and each[2].text.strip() == "BUDI"
