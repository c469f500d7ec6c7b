"""The integrations service's events, through the real broker to a real SMTP server
(aiosmtpd): an unknown mail sender's answer (intake.sender_refused: one mail to the
address, threaded under the refused mail, in their language with the other below, once even
when the event comes twice) and a disabled outbound webhook (webhook.disabled: every
active administrator, in the app and by mail as their preferences say)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.identity import OrganisationUpdated
from helpdesk_common.contracts.integrations import IntakeSenderRefused, WebhookDisabled
from helpdesk_common.directory import DirectoryOrganisation
from helpdesk_testing import eventually
from notifications.email.compose import message_id_of
from notifications.email.models import DigestItem
from notifications.inapp.models import Notification
from notifications.routing.intake import reply_subject


def refused(address: str, **values: Any) -> IntakeSenderRefused:
    fields: dict[str, Any] = {
        "mailbox_id": uuid.uuid4(),
        "mailbox_name": "Helpdesk Diskominfo",
        "address": address,
        "display_name": "Siti Aminah",
        "subject": "Printer lantai 2 rusak",
        "message_id": f"<{uuid.uuid4().hex}@mail.contoh.id>",
        "refused_at": datetime.now(UTC),
    }
    fields.update(values)
    return IntakeSenderRefused(**fields)


def disabled(name: str = "SIEM kantor") -> WebhookDisabled:
    now = datetime.now(UTC)
    return WebhookDisabled(
        webhook_id=uuid.uuid4(),
        name=name,
        url="https://siem.contoh.go.id/hooks/helpdesk",
        failing_since=now - timedelta(hours=24, minutes=5),
        last_error="HTTP 502 Bad Gateway",
        disabled_at=now,
    )


def address() -> str:
    return f"warga-{uuid.uuid4().hex[:8]}@contoh.id"


async def set_organisation(service: Any) -> None:
    envelope = await service.publish(
        OrganisationUpdated(
            name="Dinas Kominfo Kota Contoh",
            address="Jl. Merdeka No. 1, Kota Contoh",
            phone="(0361) 123456",
            email="layanan@kominfo.contoh.go.id",
            revision=1,
            updated_at=datetime.now(UTC),
        ),
        producer="identity",
    )
    await service.wait_processed(envelope)

    async def stored() -> bool:
        async with service.sessionmaker() as session:
            return await session.get(DirectoryOrganisation, 1) is not None

    await eventually(stored)


async def test_an_unknown_sender_gets_one_answer_under_their_mail(service, smtp_sink) -> None:
    await set_organisation(service)
    to = address()
    event = refused(to.upper())
    envelope = EventEnvelope.wrap(event, producer="integrations")
    await service.publish_envelope(envelope)
    await service.publish_envelope(envelope)  # the broker may deliver an event twice
    rows = await service.wait_sent(envelope)
    assert [row.recipient for row in rows] == [to]
    assert rows[0].user_id is None
    await eventually(lambda: len(smtp_sink.to(to)) == 1)
    # A later event through the same queue is handled after the duplicate: then count.
    marker = await service.publish(refused(address()), producer="integrations")
    await service.wait_sent(marker)
    assert len(smtp_sink.to(to)) == 1
    assert len(await service.deliveries(event_id=envelope.event_id)) == 1

    (mail,) = smtp_sink.to(to)
    assert mail.subject == "Re: Printer lantai 2 rusak"
    assert mail.message["In-Reply-To"] == event.message_id
    assert mail.message["References"] == event.message_id
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message["X-Helpdesk-Event"] == "intake.sender_refused"
    assert "Siti Aminah" in str(mail.message["To"])
    text = mail.text
    # Bahasa Indonesia first, English below.
    assert text.startswith("Yth. Siti Aminah,")
    indonesian = text.index("belum terdaftar sebagai pengguna")
    english = text.index("is not registered as a user")
    assert indonesian < text.index("--- English below ---") < english
    # How to get an account and reach the desk: the web address and the organisation's
    # contacts.
    assert "Mintalah akun kepada admin helpdesk" in text
    assert "https://helpdesk.example.test/" in text
    assert "telepon (0361) 123456" in text and "email layanan@kominfo.contoh.go.id" in text
    assert "Jl. Merdeka No. 1" in text
    assert "Ask the helpdesk administrator" in text
    assert to.upper() in text  # the address as the sender wrote it
    html = mail.html
    assert html.index("belum terdaftar") < html.index("is not registered")
    # Nothing in the app: the sender is not a user.
    async with service.sessionmaker() as session:
        notices = await session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.event_id == envelope.event_id)
        )
    assert notices == 0


async def test_english_first_by_language_and_hostile_fields(service, smtp_sink) -> None:
    to = address()
    event = refused(
        to,
        language="en",
        display_name=None,
        subject="RE: <script>alert(1)</script>\r\nBcc: victim@contoh.id",
        message_id="no-brackets@mail.contoh.id",
    )
    envelope = await service.publish(event, producer="integrations")
    await service.wait_sent(envelope)
    (mail,) = smtp_sink.to(to)
    # Already a reply: one prefix; the line break cannot add a header.
    assert mail.subject == "RE: <script>alert(1)</script> Bcc: victim@contoh.id"
    assert mail.message["Bcc"] is None
    assert mail.message["In-Reply-To"] == "<no-brackets@mail.contoh.id>"
    assert mail.text.startswith(f"Dear {to},")
    assert mail.text.index("is not registered") < mail.text.index("belum terdaftar")
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html


async def test_a_sender_refused_without_a_usable_address_mails_nobody(service) -> None:
    envelope = await service.publish(
        refused("not an address\r\nRCPT TO:<x@contoh.id>"), producer="integrations"
    )
    await service.wait_processed(envelope)
    assert await service.deliveries(event_id=envelope.event_id) == []


def test_reply_ids_and_subjects() -> None:
    assert message_id_of("<a.b@c>") == "<a.b@c>"
    assert message_id_of(" a.b@c ") == "<a.b@c>"
    for bad in (None, "", "<a b@c>", "<a@c>\r\nBcc: x@y", "<ä@c>"):
        assert message_id_of(bad) is None, bad
    assert reply_subject("  Mohon   bantuan ") == "Re: Mohon bantuan"
    assert reply_subject("Balas: tiket") == "Balas: tiket"
    assert reply_subject("") == "Re: (tanpa subjek)"


async def test_every_active_administrator_hears_of_a_disabled_webhook(service, smtp_sink) -> None:
    ani = await service.add_user("admin", name="Ani Admin")
    ben = await service.add_user("admin", language="en", name="Ben Admin")
    quiet = await service.add_user("admin", name="Citra Admin")
    daily = await service.add_user("admin", name="Dedi Admin")
    retired = await service.add_user("admin", active=False)
    agent = await service.add_user("agent")
    for user, choice in (
        (quiet, {"in_app": True, "email": "off"}),
        (daily, {"in_app": False, "email": "digest"}),
    ):
        response = await service.client.put(
            "/notifications/preferences",
            json={"items": [{"event": "webhook_disabled", **choice}]},
            headers=service.headers_for(user),
        )
        assert response.status_code == 200, response.text
    # Not a requester's or an agent's choice to make.
    refused_choice = await service.client.put(
        "/notifications/preferences",
        json={"items": [{"event": "webhook_disabled", "in_app": True, "email": "off"}]},
        headers=service.headers_for(agent),
    )
    assert refused_choice.status_code == 422
    assert refused_choice.json()["error"]["code"] == "event_not_for_role"

    event = disabled()
    envelope = EventEnvelope.wrap(event, producer="integrations")
    await service.publish_envelope(envelope)
    await service.publish_envelope(envelope)
    rows = await service.wait_sent(envelope)
    marker = await service.publish(disabled("lain"), producer="integrations")
    await service.wait_sent(marker)
    assert {row.recipient for row in rows} == {ani.email, ben.email}

    def about(address: str | None, name: str = "SIEM kantor") -> list[Any]:
        assert address is not None
        return [mail for mail in smtp_sink.to(address) if mail.subject.endswith(name)]

    (to_ani,) = about(ani.email)
    assert to_ani.subject == "Webhook keluar dinonaktifkan: SIEM kantor"
    assert "Yth. Ani Admin" in to_ani.text
    assert "https://siem.contoh.go.id/hooks/helpdesk" in to_ani.text
    assert "HTTP 502 Bad Gateway" in to_ani.text
    page = f"https://helpdesk.example.test/#/admin/webhooks/{event.webhook_id}"
    assert page in to_ani.text and f'href="{page}"' in to_ani.html
    assert "Lihat tiket" not in to_ani.text
    (to_ben,) = about(ben.email)
    assert to_ben.subject == "Outbound webhook disabled: SIEM kantor"
    assert "enable the webhook again" in to_ben.text
    assert about(quiet.email) == [] and about(daily.email) == []
    assert about(agent.email) == [] and about(retired.email) == []
    # The other event reached the same two, each once.
    assert len(about(ani.email, "lain")) == 1 and len(about(ben.email, "lain")) == 1

    async with service.sessionmaker() as session:
        notices = {
            row.user_id: row
            for row in await session.scalars(
                sa.select(Notification).where(Notification.event_id == envelope.event_id)
            )
        }
        digest = {
            row.user_id: row
            for row in await session.scalars(
                sa.select(DigestItem).where(DigestItem.event_id == envelope.event_id)
            )
        }
    assert set(notices) == {ani.user_id, ben.user_id, quiet.user_id}
    notice = notices[ani.user_id]
    assert notice.title == "Webhook keluar dinonaktifkan: SIEM kantor"
    assert notice.body.startswith("Webhook SIEM kantor gagal terkirim sejak")
    assert notice.link == page
    assert notice.ticket_id is None and notice.addressed
    assert notices[ben.user_id].title == "Outbound webhook disabled: SIEM kantor"
    assert set(digest) == {daily.user_id}
    assert digest[daily.user_id].title == "Webhook keluar dinonaktifkan: SIEM kantor"
    await asyncio.sleep(0.2)
    assert len(about(ani.email)) == 1  # the duplicate mailed nobody twice


async def test_the_administrators_preferences_offer_the_choice(service) -> None:
    admin = await service.add_user("admin")
    response = await service.client.get(
        "/notifications/preferences", headers=service.headers_for(admin)
    )
    assert response.status_code == 200
    assert [item["event"] for item in response.json()["items"]][-1] == "webhook_disabled"
