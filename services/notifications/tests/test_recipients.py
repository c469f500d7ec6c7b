"""For each ticket event: who receives what, checked on the mails the SMTP server received."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import sqlalchemy as sa

from helpdesk_common.contracts.tickets import (
    Actor,
    TicketAssigned,
    TicketClosed,
    TicketCommented,
    TicketEscalated,
    TicketReopened,
    TicketResolved,
    TicketSlaBreached,
    TicketSlaWarning,
    TicketStatusChanged,
)
from notifications.inapp.models import Notification


async def world(service, *, assignee_language: str = "id") -> SimpleNamespace:
    """A unit with a contact address, its requester, and IT staff."""
    unit = await service.add_unit(contact_email=f"kontak-{uuid.uuid4().hex[:8]}@example.test")
    return SimpleNamespace(
        unit=unit,
        requester=await service.add_user("requester", unit=unit, name="Siti Rahma"),
        assignee=await service.add_user("agent", language=assignee_language, name="Budi Santoso"),
        other_agent=await service.add_user("agent", name="Andi Wijaya"),
    )


def addresses(deliveries) -> set[str]:
    return {d.recipient for d in deliveries}


async def in_app_for(service, user) -> list[Notification]:
    async with service.sessionmaker() as session:
        rows = await session.scalars(
            sa.select(Notification).where(Notification.user_id == user.user_id)
        )
        return list(rows)


async def test_created_reaches_requester_unit_contact_and_agents(service, smtp_sink, tickets):
    w = await world(service)
    english_agent = await service.add_user("agent", language="en", name="Grace Hopper")
    inactive_agent = await service.add_user("agent", active=False)
    agent_without_mail = await service.add_user("agent", with_email=False)
    admin = await service.add_user("admin")
    leader = await service.add_user("leader")

    event = tickets.created(w.unit, w.requester, title="Printer <lantai 2> rusak")
    envelope = await service.publish(event)
    sent = addresses(await service.wait_sent(envelope))

    expected = {
        w.requester.email,
        w.unit.contact_email,
        w.assignee.email,
        w.other_agent.email,
        english_agent.email,
    }
    assert expected <= sent
    assert not sent & {inactive_agent.email, admin.email, leader.email}

    # The requester's receipt: Bahasa Indonesia, number, title, status, agent and link.
    [receipt] = smtp_sink.to(w.requester.email)
    ticket = event.ticket
    link = f"https://helpdesk.example.test/#/tickets/{ticket.ticket_id}"
    assert receipt.subject == f"[{ticket.number}] Tiket baru: Printer <lantai 2> rusak"
    assert receipt.message["From"] == "Helpdesk Kominfo <helpdesk@localhost>"
    assert receipt.message["X-Helpdesk-Ticket"] == ticket.number
    assert receipt.message["Auto-Submitted"] == "auto-generated"
    text = receipt.text
    assert "Yth. Siti Rahma" in text
    assert "Permintaan layanan Anda telah kami terima" in text
    assert ticket.number in text and "Printer <lantai 2> rusak" in text
    assert "Status    : Baru" in text
    assert "Petugas   : Belum ditugaskan" in text
    assert link in text
    html = receipt.html
    assert f'href="{link}"' in html
    assert "Printer &lt;lantai 2&gt; rusak" in html and "<lantai 2>" not in html

    # An agent who chose English reads English.
    [english] = smtp_sink.to(english_agent.email)
    assert english.subject == f"[{ticket.number}] New ticket: Printer <lantai 2> rusak"
    assert "Dear Grace Hopper" in english.text
    assert "awaits verification" in english.text and "Status    : New" in english.text

    # In-app: every agent, including the one without an address; not the requester who
    # created the ticket (the receipt mail is enough).
    assert len(await in_app_for(service, agent_without_mail)) == 1
    [note] = await in_app_for(service, english_agent)
    assert note.title == english.subject and note.link == link
    assert await in_app_for(service, w.requester) == []


async def test_agents_are_not_told_of_new_tickets_when_switched_off(
    service_factory, smtp_sink, tickets
):
    async with service_factory(
        schema=f"notif_noagents_{uuid.uuid4().hex[:6]}",
        smtp_port=smtp_sink.port,
        notify_agents_on_created=False,
    ) as quiet:
        w = await world(quiet)
        envelope = await quiet.publish(tickets.created(w.unit, w.requester))
        sent = addresses(await quiet.wait_sent(envelope))
        assert sent == {w.requester.email, w.unit.contact_email}


async def test_assignment_reaches_the_assignee_only(service, smtp_sink, tickets):
    w = await world(service, assignee_language="en")
    ticket = tickets.snapshot(w.unit, w.requester, status="in_progress", assignee=w.assignee)
    envelope = await service.publish(
        TicketAssigned(
            ticket=ticket,
            actor=w.other_agent.actor(),
            assignee_id=w.assignee.user_id,
            assignee_name=w.assignee.name,
        )
    )
    assert addresses(await service.wait_sent(envelope)) == {w.assignee.email}
    [mail] = smtp_sink.to(w.assignee.email)
    assert mail.subject == f"[{ticket.number}] Ticket assigned to you: {ticket.title}"
    assert f"{w.other_agent.name} assigned ticket {ticket.number} to you" in mail.text
    assert "Agent     : Budi Santoso" in mail.text
    assert "Status    : In progress" in mail.text
    assert [n.event_type for n in await in_app_for(service, w.assignee)] == ["ticket.assigned"]


async def test_status_changes_reach_requester_and_unit_contact(service, smtp_sink, tickets):
    w = await world(service)
    ticket = tickets.snapshot(w.unit, w.requester, status="pending", assignee=w.assignee)
    envelope = await service.publish(
        TicketStatusChanged(
            ticket=ticket,
            actor=w.assignee.actor(),
            from_status="in_progress",
            to_status="pending",
            reason="Mohon kirimkan foto pesan galat pada printer.",
        )
    )
    sent = await service.wait_sent(envelope)
    assert addresses(sent) == {w.requester.email, w.unit.contact_email}
    [mail] = smtp_sink.to(w.requester.email)
    assert mail.subject == f"[{ticket.number}] Status tiket: Tertunda - {ticket.title}"
    assert "berubah dari Diproses menjadi Tertunda oleh Budi Santoso" in mail.text
    assert "Alasan: Mohon kirimkan foto pesan galat pada printer." in mail.text
    assert "Petugas   : Budi Santoso" in mail.text
    [contact_mail] = smtp_sink.to(w.unit.contact_email)
    assert contact_mail.message["To"].addresses[0].display_name == f"Kontak {w.unit.name}"
    # The requester sees it in the app too; the acting agent does not.
    assert [n.event_type for n in await in_app_for(service, w.requester)] == [
        "ticket.status_changed"
    ]
    assert await in_app_for(service, w.assignee) == []


async def test_rejection_carries_the_reason(service, smtp_sink, tickets):
    w = await world(service)
    ticket = tickets.snapshot(w.unit, w.requester, status="rejected")
    envelope = await service.publish(
        TicketStatusChanged(
            ticket=ticket,
            actor=w.other_agent.actor(),
            from_status="new",
            to_status="rejected",
            reason="Bukan kewenangan Kominfo.",
        )
    )
    await service.wait_sent(envelope)
    [mail] = smtp_sink.to(w.requester.email)
    assert "menjadi Ditolak" in mail.text and "Alasan: Bukan kewenangan Kominfo." in mail.text


async def test_resolution_is_one_mail_with_the_result_summary(service, smtp_sink, tickets):
    w = await world(service)
    ticket = tickets.snapshot(w.unit, w.requester, status="resolved", assignee=w.assignee)
    # Tickets emits the generic status change and the specific event for one transition.
    generic = await service.publish(
        TicketStatusChanged(
            ticket=ticket, actor=w.assignee.actor(), from_status="in_progress", to_status="resolved"
        )
    )
    specific = await service.publish(
        TicketResolved(
            ticket=ticket,
            actor=w.assignee.actor(),
            result_summary="Driver printer diperbarui dan antrean dibersihkan.",
        )
    )
    assert await service.wait_sent(generic) == []
    assert addresses(await service.wait_sent(specific)) == {
        w.requester.email,
        w.unit.contact_email,
    }
    [mail] = smtp_sink.to(w.requester.email)
    assert mail.subject == f"[{ticket.number}] Tiket selesai: {ticket.title}"
    assert "Ringkasan hasil:\nDriver printer diperbarui dan antrean dibersihkan." in mail.text
    assert "Status    : Selesai" in mail.text
    assert "Driver printer diperbarui" in mail.html


async def test_closing_reaches_requester_and_unit_contact(service, smtp_sink, tickets):
    w = await world(service)
    ticket = tickets.snapshot(w.unit, w.requester, status="closed", assignee=w.assignee)
    system = Actor(user_id=None, name="Sistem", role="system")
    envelope = await service.publish(TicketClosed(ticket=ticket, actor=system, automatic=True))
    assert addresses(await service.wait_sent(envelope)) == {
        w.requester.email,
        w.unit.contact_email,
    }
    [mail] = smtp_sink.to(w.requester.email)
    assert mail.subject == f"[{ticket.number}] Tiket ditutup: {ticket.title}"
    assert "ditutup otomatis" in mail.text and "Status    : Ditutup" in mail.text


async def test_reopening_reaches_the_assignee(service, smtp_sink, tickets):
    w = await world(service)
    ticket = tickets.snapshot(w.unit, w.requester, status="in_progress", assignee=w.assignee)
    envelope = await service.publish(
        TicketReopened(ticket=ticket, actor=w.requester.actor(), reason="Masih macet.")
    )
    assert addresses(await service.wait_sent(envelope)) == {w.assignee.email}
    [mail] = smtp_sink.to(w.assignee.email)
    assert "Siti Rahma membuka kembali tiket" in mail.text and "Alasan: Masih macet." in mail.text


async def test_public_comment_reaches_the_other_side(service, smtp_sink, tickets):
    w = await world(service)
    ticket = tickets.snapshot(w.unit, w.requester, status="in_progress", assignee=w.assignee)
    from_agent = await service.publish(
        TicketCommented(
            ticket=ticket,
            actor=w.assignee.actor(),
            comment_id=uuid.uuid4(),
            body="Teknisi akan datang pukul 10.00.\nMohon siapkan akses ruangan.",
            internal=False,
        )
    )
    # The requester hears the agent; the unit contact is not copied on conversation.
    assert addresses(await service.wait_sent(from_agent)) == {w.requester.email}
    [mail] = smtp_sink.to(w.requester.email)
    assert mail.subject == f"[{ticket.number}] Komentar baru: {ticket.title}"
    assert "Teknisi akan datang pukul 10.00.\nMohon siapkan akses ruangan." in mail.text
    assert "Teknisi akan datang pukul 10.00.<br>" in mail.html

    from_requester = await service.publish(
        TicketCommented(
            ticket=ticket,
            actor=w.requester.actor(),
            comment_id=uuid.uuid4(),
            body="Baik, terima kasih.",
            internal=False,
        )
    )
    assert addresses(await service.wait_sent(from_requester)) == {w.assignee.email}
    assert "Baik, terima kasih." in smtp_sink.to(w.assignee.email)[0].text


async def test_internal_note_never_reaches_the_requester(service, smtp_sink, tickets):
    w = await world(service)
    ticket = tickets.snapshot(w.unit, w.requester, status="in_progress", assignee=w.assignee)
    secret = f"Catatan rahasia {uuid.uuid4().hex}"
    envelope = await service.publish(
        TicketCommented(
            ticket=ticket,
            actor=w.other_agent.actor(),
            comment_id=uuid.uuid4(),
            body=secret,
            internal=True,
        )
    )
    assert addresses(await service.wait_sent(envelope)) == {w.assignee.email}
    [mail] = smtp_sink.to(w.assignee.email)
    assert mail.subject == f"[{ticket.number}] Catatan internal: {ticket.title}"
    assert "catatan internal (hanya untuk petugas)" in mail.text and secret in mail.text

    # Nothing about it reached the requester or the unit contact, by mail or in the app.
    assert smtp_sink.to(w.requester.email) == []
    assert smtp_sink.to(w.unit.contact_email) == []
    assert all(secret not in c.text for c in smtp_sink.caught if c is not mail)
    assert await in_app_for(service, w.requester) == []


async def test_sla_warning_breach_and_escalation(service, smtp_sink, tickets):
    w = await world(service)
    leader = await service.add_user("leader", language="en", name="Kepala Dinas")
    admin = await service.add_user("admin")
    ticket = tickets.snapshot(w.unit, w.requester, status="in_progress", assignee=w.assignee)
    due = ticket.created_at
    system = Actor(user_id=None, name="Sistem", role="system")

    warning = await service.publish(
        TicketSlaWarning(
            ticket=ticket, actor=system, target="resolution", due_at=due, threshold=0.75
        )
    )
    assert addresses(await service.wait_sent(warning)) == {w.assignee.email}
    assert "telah terpakai 75%" in smtp_sink.to(w.assignee.email)[0].text

    breach = await service.publish(
        TicketSlaBreached(ticket=ticket, actor=system, target="first_response", due_at=due)
    )
    sent = addresses(await service.wait_sent(breach))
    assert {w.assignee.email, leader.email} <= sent
    assert admin.email not in sent and w.requester.email not in sent
    [to_leader] = smtp_sink.to(leader.email)
    assert to_leader.subject == f"[{ticket.number}] SLA breached (first response): {ticket.title}"

    escalation = await service.publish(
        TicketEscalated(
            ticket=ticket,
            actor=system,
            target="resolution",
            reason="Melewati batas waktu penyelesaian.",
            escalated_to_roles=["leader", "admin"],
        )
    )
    sent = addresses(await service.wait_sent(escalation))
    assert {w.assignee.email, leader.email, admin.email} <= sent
    assert w.requester.email not in sent
    [to_admin] = smtp_sink.to(admin.email)
    assert to_admin.subject == f"[{ticket.number}] Eskalasi tiket: {ticket.title}"
    assert "Alasan: Melewati batas waktu penyelesaian." in to_admin.text


async def test_an_address_gets_one_mail_per_event(service, smtp_sink, tickets):
    # The unit's contact address is the requester's own: one mail, not two.
    unit = await service.add_unit(contact_email=None)
    requester = await service.add_user("requester", unit=unit)
    shared = await service.add_unit(contact_email=requester.email.upper())
    envelope = await service.publish(tickets.created(shared, requester))
    sent = await service.wait_sent(envelope)
    assert [d.recipient for d in sent].count(requester.email) == 1
    assert len(smtp_sink.to(requester.email)) == 1


async def test_a_user_missing_from_the_directory_still_gets_in_app(service, smtp_sink, tickets):
    w = await world(service)
    stranger = SimpleNamespace(user_id=uuid.uuid4(), name="Belum Sinkron")
    ticket = tickets.snapshot(w.unit, w.requester, status="in_progress").model_copy(
        update={"assignee_id": stranger.user_id, "assignee_name": stranger.name}
    )
    envelope = await service.publish(
        TicketAssigned(
            ticket=ticket,
            actor=w.other_agent.actor(),
            assignee_id=stranger.user_id,
            assignee_name=stranger.name,
        )
    )
    assert await service.wait_sent(envelope) == []
    [note] = await in_app_for(service, stranger)
    assert note.title.startswith(f"[{ticket.number}] Tiket ditugaskan kepada Anda")
