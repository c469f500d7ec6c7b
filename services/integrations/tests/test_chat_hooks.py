"""Chat hooks (issue 14 section 4) through a real tickets service on a loopback port:
signatures, one ticket per provider message, conversations, closed tickets, WhatsApp's
payloads and handshake, refusals that store nothing, and the tickets service down."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from helpdesk_common.contracts.identity import UnitCreated, UserCreated
from helpdesk_common.directory import upsert_unit, upsert_user
from helpdesk_common.inputs import NUL_MESSAGE
from helpdesk_testing.net import TcpProxy, serve_http
from integrations.chat.models import ChatConversation, ChatMessage
from tickets.main import create_app as create_tickets_app
from tickets.settings import TicketsSettings

from .conftest import INTERNAL_TOKEN, World, running_integrations

SECRET = "generic-secret-0123456789abcdef"
APP_SECRET = "meta-app-secret-0123456789"
VERIFY_TOKEN = "verify-me-please"


@dataclass
class Chat:
    world: World
    tickets: httpx.AsyncClient
    tickets_app: Any
    proxy: TcpProxy
    make_token: Callable[..., str]
    unit_id: uuid.UUID
    category_id: str
    admin_headers: dict[str, str]
    agent_headers: dict[str, str]
    generic_id: str
    whatsapp_id: str

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        response = await self.tickets.get(f"/tickets/{ticket_id}", headers=self.agent_headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def comments(self, ticket_id: str) -> list[dict[str, Any]]:
        response = await self.tickets.get(
            f"/tickets/{ticket_id}/comments", headers=self.agent_headers
        )
        assert response.status_code == 200, response.text
        data = response.json()
        return list(data["items"] if isinstance(data, dict) else data)

    async def tickets_count(self) -> int:
        async with self.tickets_app.state.runtime.sessionmaker() as session:
            query = sa.text("SELECT count(*) FROM tickets WHERE unit_id = :u")
            return int((await session.execute(query, {"u": self.unit_id})).scalar_one())

    async def messages(self, channel_id: str) -> list[ChatMessage]:
        async with self.world.runtime.sessionmaker() as session:
            query = sa.select(ChatMessage).where(ChatMessage.channel_id == uuid.UUID(channel_id))
            return list(await session.scalars(query))

    async def conversations(self) -> int:
        async with self.world.runtime.sessionmaker() as session:
            return int(
                await session.scalar(sa.select(sa.func.count()).select_from(ChatConversation)) or 0
            )


async def _seed_tickets_directory(app: Any, unit_id: uuid.UUID, users: list[UserCreated]) -> None:
    async with app.state.runtime.sessionmaker() as session, session.begin():
        await upsert_unit(
            session,
            snapshot=UnitCreated(
                unit_id=unit_id,
                code=unit_id.hex[:6].upper(),
                name="Dinas Chat",
                is_active=True,
                revision=1,
                updated_at=datetime.now(UTC),
            ),
        )
        for user in users:
            await upsert_user(session, snapshot=user)


@asynccontextmanager
async def chat_world(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[Chat]:
    tickets_settings = make_settings(
        TicketsSettings,
        schema=f"tickets_chat_{uuid.uuid4().hex[:6]}",
        run_scheduler=False,
        internal_token=INTERNAL_TOKEN,
    )
    tickets_app = create_tickets_app(tickets_settings)
    async with serve_http(tickets_app) as tickets_url:
        port = int(tickets_url.rsplit(":", 1)[1])
        proxy = TcpProxy("127.0.0.1", port)
        await proxy.start()
        async with (
            httpx.AsyncClient(base_url=tickets_url) as tickets,
            running_integrations(
                make_settings, make_token, tickets_url=f"http://127.0.0.1:{proxy.port}"
            ) as world,
        ):
            unit_id = await world.unit("Dinas Chat")
            await _seed_tickets_directory(tickets_app, unit_id, [])
            agent_id = uuid.uuid4()
            agent_token = make_token("agent", user_id=agent_id, unit_id=None, name="Agen")
            agent_headers = {"Authorization": f"Bearer {agent_token}"}
            categories = await tickets.get("/categories", headers=agent_headers)
            assert categories.status_code == 200, categories.text
            category_id = next(c["id"] for c in categories.json() if c["name"] == "Aplikasi")
            admin = await world.person("admin")
            chat = Chat(
                world=world,
                tickets=tickets,
                tickets_app=tickets_app,
                proxy=proxy,
                make_token=make_token,
                unit_id=unit_id,
                category_id=category_id,
                admin_headers=admin.headers,
                agent_headers=agent_headers,
                generic_id="",
                whatsapp_id="",
            )
            chat.generic_id = await new_channel(chat, "generic", SECRET)
            chat.whatsapp_id = await new_channel(chat, "whatsapp", APP_SECRET, VERIFY_TOKEN)
            try:
                yield chat
            finally:
                await proxy.cut()


async def new_channel(
    chat: Chat, provider: str, secret: str, verify_token: str | None = None
) -> str:
    body: dict[str, Any] = {
        "name": f"Kanal {provider}",
        "provider": provider,
        "secret": secret,
        "default_unit_id": str(chat.unit_id),
        "default_category_id": chat.category_id,
    }
    if verify_token:
        body["verify_token"] = verify_token
    response = await chat.world.client.post(
        "/channels", json=body, headers={**chat.admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
async def chat(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[Chat]:
    async with chat_world(make_settings, make_token) as started:
        yield started


def sign_generic(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = str(at if at is not None else int(time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Helpdesk-Timestamp": timestamp,
        "X-Helpdesk-Signature": f"sha256={digest.hexdigest()}",
    }


def generic_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": f"m-{uuid.uuid4().hex}",
        "conversation_id": f"c-{uuid.uuid4().hex}",
        "sender": {"id": "u-1", "name": "Siti Aminah", "email": "siti@example.com"},
        "text": "Aplikasi e-Kinerja tidak bisa dibuka\nMuncul pesan error 500 sejak pagi.",
    }
    body.update(fields)
    return body


async def post_generic(
    chat: Chat, body: dict[str, Any] | bytes, *, channel_id: str | None = None, **sign: Any
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await chat.world.client.post(
        f"/hooks/{channel_id or chat.generic_id}", content=raw, headers=sign_generic(raw, **sign)
    )


def wa_payload(
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    wa_id: str = "6281234567890",
    name: str = "Budi Santoso",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1234567890"},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def wa_text(text: str, *, sender: str = "6281234567890", at: int | None = None) -> dict[str, Any]:
    return {
        "from": sender,
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(at if at is not None else int(time.time())),
        "type": "text",
        "text": {"body": text},
    }


def sign_whatsapp(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


async def post_whatsapp(
    chat: Chat, payload: dict[str, Any], *, secret: str = APP_SECRET
) -> httpx.Response:
    raw = json.dumps(payload).encode()
    return await chat.world.client.post(
        f"/hooks/{chat.whatsapp_id}", content=raw, headers=sign_whatsapp(raw, secret)
    )


# -- signatures -------------------------------------------------------------------------


async def test_a_signed_generic_message_makes_a_ticket_with_the_senders_contact(chat: Chat) -> None:
    body = generic_body()
    response = await post_generic(chat, body)
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["outcome"] == "ticket" and result["duplicate"] is False
    ticket = await chat.ticket(result["ticket_id"])
    assert ticket["number"] == result["ticket_number"]
    assert ticket["title"] == "Aplikasi e-Kinerja tidak bisa dibuka"
    assert "error 500" in ticket["description"]
    assert ticket["channel"] == "webhook"
    assert ticket["unit_id"] == str(chat.unit_id)
    assert ticket["requester_id"] is None
    assert (ticket["contact_name"], ticket["contact_email"]) == ("Siti Aminah", "siti@example.com")
    assert ticket["created_by_name"] == "Siti Aminah (chat siti@example.com)"
    (row,) = await chat.messages(chat.generic_id)
    assert (row.provider_message_id, row.outcome, row.ticket_number) == (
        body["message_id"],
        "ticket",
        result["ticket_number"],
    )


@pytest.mark.parametrize(
    "case", ["wrong secret", "tampered body", "missing signature", "missing timestamp", "stale"]
)
async def test_a_bad_signature_is_401_and_stores_nothing(chat: Chat, case: str) -> None:
    before = (await chat.tickets_count(), len(await chat.messages(chat.generic_id)))
    raw = json.dumps(generic_body()).encode()
    headers = sign_generic(raw)
    if case == "wrong secret":
        headers = sign_generic(raw, secret="another-secret-0123456789")
    elif case == "tampered body":
        raw = raw.replace(b"Siti", b"Sita")
    elif case == "missing signature":
        del headers["X-Helpdesk-Signature"]
    elif case == "missing timestamp":
        del headers["X-Helpdesk-Timestamp"]
    elif case == "stale":
        headers = sign_generic(raw, at=int(time.time()) - 301)
    response = await chat.world.client.post(
        f"/hooks/{chat.generic_id}", content=raw, headers=headers
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == {
        "code": "invalid_signature",
        "message": "The request's signature is not valid",
    }
    assert (await chat.tickets_count(), len(await chat.messages(chat.generic_id))) == before


async def test_a_timestamp_from_the_future_beyond_the_tolerance_is_refused(chat: Chat) -> None:
    response = await post_generic(chat, generic_body(), at=int(time.time()) + 400)
    assert response.status_code == 401
    response = await post_generic(chat, generic_body(), at=int(time.time()) + 60)
    assert response.status_code == 200, response.text


async def test_an_unknown_or_inactive_channel_is_404(chat: Chat) -> None:
    response = await post_generic(chat, generic_body(), channel_id=str(uuid.uuid4()))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "channel_not_found"
    channel_id = await new_channel(chat, "generic", SECRET)
    patched = await chat.world.client.patch(
        f"/channels/{channel_id}",
        json={"is_active": False},
        headers={**chat.admin_headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert patched.status_code == 200, patched.text
    response = await post_generic(chat, generic_body(), channel_id=channel_id)
    assert response.status_code == 404


# -- once per message, conversations ----------------------------------------------------


async def test_a_repeated_message_makes_one_ticket(chat: Chat) -> None:
    body = generic_body()
    before = await chat.tickets_count()
    first = await post_generic(chat, body)
    again = await post_generic(chat, body)  # signed again (a provider's retry)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["results"][0]["duplicate"] is True
    assert again.json()["results"][0]["ticket_id"] == first.json()["results"][0]["ticket_id"]
    assert await chat.tickets_count() == before + 1
    rows = [
        m
        for m in await chat.messages(chat.generic_id)
        if m.provider_message_id == body["message_id"]
    ]
    assert len(rows) == 1


async def test_concurrent_repeats_and_a_conversations_first_messages_make_one_ticket(
    chat: Chat,
) -> None:
    conversation = f"c-{uuid.uuid4().hex}"
    body = generic_body(conversation_id=conversation)
    other = generic_body(conversation_id=conversation, text="Tambahan: sudah dicoba ulang")
    before = await chat.tickets_count()
    responses = await asyncio.gather(
        post_generic(chat, body), post_generic(chat, body), post_generic(chat, other)
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert await chat.tickets_count() == before + 1
    outcomes = sorted(r.json()["results"][0]["outcome"] for r in responses)
    assert outcomes in (["comment", "ticket", "ticket"], ["comment", "comment", "ticket"])
    assert len({r.json()["results"][0]["ticket_id"] for r in responses}) == 1


async def test_the_next_message_of_a_conversation_is_a_comment(chat: Chat) -> None:
    conversation = f"c-{uuid.uuid4().hex}"
    first = await post_generic(chat, generic_body(conversation_id=conversation))
    ticket_id = first.json()["results"][0]["ticket_id"]
    reply = generic_body(conversation_id=conversation, text="Sekarang muncul layar putih saja.")
    response = await post_generic(chat, reply)
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert (result["outcome"], result["ticket_id"]) == ("comment", ticket_id)
    comments = await chat.comments(ticket_id)
    assert [c["body"] for c in comments] == ["Sekarang muncul layar putih saja."]
    (row,) = [
        m
        for m in await chat.messages(chat.generic_id)
        if m.provider_message_id == reply["message_id"]
    ]
    assert row.outcome == "comment" and row.comment_id is not None


async def test_a_closed_conversation_ticket_gets_a_new_ticket_naming_it(chat: Chat) -> None:
    conversation = f"c-{uuid.uuid4().hex}"
    first = await post_generic(chat, generic_body(conversation_id=conversation))
    old = first.json()["results"][0]
    rejected = await chat.tickets.post(
        f"/tickets/{old['ticket_id']}/reject",
        json={"reason": "Bukan wewenang TI"},
        headers=chat.agent_headers,
    )
    assert rejected.status_code == 200, rejected.text
    response = await post_generic(
        chat, generic_body(conversation_id=conversation, text="Masih error, tolong dibantu")
    )
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["outcome"] == "ticket" and result["ticket_id"] != old["ticket_id"]
    ticket = await chat.ticket(result["ticket_id"])
    assert old["ticket_number"] in ticket["description"]
    # ... and the conversation continues on the new ticket.
    more = await post_generic(chat, generic_body(conversation_id=conversation, text="Halo?"))
    assert more.json()["results"][0] | {"duplicate": False} == {
        "message_id": more.json()["results"][0]["message_id"],
        "outcome": "comment",
        "duplicate": False,
        "ticket_id": result["ticket_id"],
        "ticket_number": result["ticket_number"],
    }


async def test_a_known_users_address_makes_them_the_requester(chat: Chat) -> None:
    user_id = uuid.uuid4()
    email = f"pegawai.{user_id.hex[:6]}@example.go.id"
    user = UserCreated(
        user_id=user_id,
        username=f"req{user_id.hex[:8]}",
        full_name="Pegawai Dinas",
        email=email,
        role="requester",
        unit_id=chat.unit_id,
        is_active=True,
        revision=1,
        updated_at=datetime.now(UTC),
    )
    async with chat.world.runtime.sessionmaker() as session, session.begin():
        await upsert_user(session, snapshot=user)
    await _seed_tickets_directory(chat.tickets_app, chat.unit_id, [user])
    sender = {"id": "emp-7", "name": "Pegawai", "email": email.upper()}
    response = await post_generic(chat, generic_body(sender=sender))
    assert response.status_code == 200, response.text
    ticket = await chat.ticket(response.json()["results"][0]["ticket_id"])
    assert ticket["requester_id"] == str(user_id)


# -- bad input --------------------------------------------------------------------------


async def test_a_signed_body_that_is_not_json_is_400(chat: Chat) -> None:
    before = len(await chat.messages(chat.generic_id))
    response = await post_generic(chat, b'{"message_id": ')
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_json" and error["fields"][0]["field"] == "body"
    assert len(await chat.messages(chat.generic_id)) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": ""}, "text"),
        ({"sender": {"id": "x", "name": "A\u0000B", "phone": "+62 811"}}, "sender.name"),
        ({"sender": {"id": "x", "name": "Anonim"}}, "sender"),
        ({"sender": {"id": "x", "name": "A", "email": "not-an-address"}}, "sender.email"),
        ({"message_id": None}, "message_id"),
        ({"sent_at": 5}, "sent_at"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_a_signed_body_with_a_bad_field_is_422_naming_it(
    chat: Chat, change: dict[str, Any], field: str
) -> None:
    before = len(await chat.messages(chat.generic_id))
    response = await post_generic(chat, generic_body(**change))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in [f["field"] for f in error["fields"]], error
    assert len(await chat.messages(chat.generic_id)) == before


# -- WhatsApp ---------------------------------------------------------------------------


async def test_whatsapp_handshake(chat: Chat) -> None:
    path = f"/hooks/{chat.whatsapp_id}"
    good = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    response = await chat.world.client.get(path, params=good)
    assert response.status_code == 200, response.text
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")
    for wrong in ({"hub.verify_token": "guess-guess"}, {"hub.mode": "unsubscribe"}):
        response = await chat.world.client.get(path, params={**good, **wrong})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "verification_failed"
    response = await chat.world.client.get(f"/hooks/{chat.generic_id}", params=good)
    assert response.status_code == 403


async def test_a_whatsapp_message_makes_a_ticket_and_its_reply_a_comment(chat: Chat) -> None:
    sender = f"62812{int(time.time() * 1000) % 10_000_000:07d}"
    first = wa_text("Printer di loket 3 macet", sender=sender)
    response = await post_whatsapp(chat, wa_payload(messages=[first], wa_id=sender))
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["outcome"] == "ticket"
    ticket = await chat.ticket(result["ticket_id"])
    assert ticket["title"] == "Printer di loket 3 macet"
    assert (ticket["contact_name"], ticket["contact_phone"]) == ("Budi Santoso", f"+{sender}")
    assert ticket["created_by_name"] == f"Budi Santoso (WhatsApp +{sender})"
    image = {
        "from": sender,
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "image",
        "image": {"caption": "Ini fotonya", "mime_type": "image/jpeg", "sha256": "x", "id": "1"},
    }
    response = await post_whatsapp(chat, wa_payload(messages=[image], wa_id=sender))
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["outcome"] == "comment"
    comments = await chat.comments(result["ticket_id"])
    assert [c["body"] for c in comments] == ["[gambar / image] Ini fotonya"]
    # Meta repeats a notification it got no 200 for: nothing twice.
    again = await post_whatsapp(chat, wa_payload(messages=[image], wa_id=sender))
    assert again.json()["results"][0]["duplicate"] is True
    assert len(await chat.comments(result["ticket_id"])) == 1


async def test_whatsapp_statuses_are_acknowledged_and_ignored(chat: Chat) -> None:
    before = (await chat.tickets_count(), len(await chat.messages(chat.whatsapp_id)))
    status = {
        "id": f"wamid.{uuid.uuid4().hex}",
        "status": "delivered",
        "timestamp": str(int(time.time())),
        "recipient_id": "6281234567890",
    }
    response = await post_whatsapp(chat, wa_payload(statuses=[status, status | {"status": "read"}]))
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 0, "results": []}
    assert (await chat.tickets_count(), len(await chat.messages(chat.whatsapp_id))) == before


async def test_whatsapp_signature_and_stale_messages(chat: Chat) -> None:
    before = (await chat.tickets_count(), len(await chat.messages(chat.whatsapp_id)))
    payload = wa_payload(messages=[wa_text("Halo")])
    wrong = await post_whatsapp(chat, payload, secret="not-the-app-secret")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_signature"
    raw = json.dumps(payload).encode()
    missing = await chat.world.client.post(f"/hooks/{chat.whatsapp_id}", content=raw)
    assert missing.status_code == 401
    # The generic headers do not count on a WhatsApp channel.
    generic = await chat.world.client.post(
        f"/hooks/{chat.whatsapp_id}", content=raw, headers=sign_generic(raw, secret=APP_SECRET)
    )
    assert generic.status_code == 401
    stale = wa_payload(messages=[wa_text("Halo", at=int(time.time()) - 25 * 3600)])
    response = await post_whatsapp(chat, stale)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "stale_message"
    assert (await chat.tickets_count(), len(await chat.messages(chat.whatsapp_id))) == before


async def test_a_whatsapp_payload_with_a_bad_field_is_422(chat: Chat) -> None:
    message = wa_text("Halo") | {"from": "+62 812"}
    response = await post_whatsapp(chat, wa_payload(messages=[message]))
    assert response.status_code == 422, response.text
    fields = [f["field"] for f in response.json()["error"]["fields"]]
    assert fields == ["entry.0.changes.0.value.messages.0.from"], fields


# -- the tickets service down -----------------------------------------------------------


async def test_tickets_down_is_503_and_the_retry_makes_the_ticket(chat: Chat) -> None:
    body = generic_body()
    before = (await chat.tickets_count(), len(await chat.messages(chat.generic_id)))
    await chat.proxy.cut()
    try:
        response = await post_generic(chat, body)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "tickets_unavailable"
        assert response.headers["Retry-After"]
        assert (await chat.tickets_count(), len(await chat.messages(chat.generic_id))) == before
    finally:
        await chat.proxy.restore()
    response = await post_generic(chat, body)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["outcome"] == "ticket"
    assert await chat.tickets_count() == before[0] + 1


async def test_the_message_log_lists_what_each_message_became(chat: Chat) -> None:
    conversation = f"c-{uuid.uuid4().hex}"
    channel_id = await new_channel(chat, "generic", SECRET)
    await post_generic(chat, generic_body(conversation_id=conversation), channel_id=channel_id)
    await post_generic(chat, generic_body(conversation_id=conversation), channel_id=channel_id)
    response = await chat.world.client.get(
        f"/channels/{channel_id}/messages", params={"limit": 1}, headers=chat.admin_headers
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert [m["outcome"] for m in page["items"]] == ["comment"]
    response = await chat.world.client.get(
        f"/channels/{channel_id}/messages",
        params={"cursor": page["next_cursor"]},
        headers=chat.admin_headers,
    )
    assert [m["outcome"] for m in response.json()["items"]] == ["ticket"]
    assert response.json()["next_cursor"] is None
    only = await chat.world.client.get(
        f"/channels/{channel_id}/messages", params={"outcome": "ticket"}, headers=chat.admin_headers
    )
    assert [m["outcome"] for m in only.json()["items"]] == ["ticket"]
    channel = await chat.world.client.get(f"/channels/{channel_id}", headers=chat.admin_headers)
    assert channel.json()["last_message_at"] is not None


async def test_a_whatsapp_notification_with_two_senders_makes_two_tickets(chat: Chat) -> None:
    one, two = (f"62813{int(time.time() * 1000 + k) % 10_000_000:07d}" for k in (1, 2))
    payload = wa_payload(messages=[wa_text("Wi-Fi lantai 2 mati", sender=one)], wa_id=one)
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"].append({"profile": {"name": "Rina"}, "wa_id": two})
    value["messages"].append(wa_text("Email kantor tidak bisa login", sender=two))
    value["messages"].append(
        {
            "from": two,
            "id": f"wamid.{uuid.uuid4().hex}",
            "timestamp": str(int(time.time())),
            "type": "reaction",
            "reaction": {"message_id": "wamid.x", "emoji": "\U0001f44d"},
        }
    )
    response = await post_whatsapp(chat, payload)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == ["ticket", "ticket"]  # the reaction skipped
    first, second = [await chat.ticket(r["ticket_id"]) for r in results]
    assert (first["contact_phone"], first["contact_name"]) == (f"+{one}", "Budi Santoso")
    assert (second["contact_phone"], second["contact_name"]) == (f"+{two}", "Rina")
    assert second["title"] == "Email kantor tidak bisa login"


async def test_a_nul_in_a_whatsapp_text_is_422_and_stores_nothing(chat: Chat) -> None:
    before = len(await chat.messages(chat.whatsapp_id))
    response = await post_whatsapp(chat, wa_payload(messages=[wa_text("a\u0000b")]))
    assert response.status_code == 422, response.text
    fields = [f["field"] for f in response.json()["error"]["fields"]]
    assert fields == ["entry.0.changes.0.value.messages.0.text.body"]
    assert response.json()["error"]["fields"][0]["message"] == NUL_MESSAGE
    assert len(await chat.messages(chat.whatsapp_id)) == before


async def test_a_wrong_internal_token_is_503_not_a_refused_message(
    chat: Chat, make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> None:
    """The tickets service refusing our call (not the message) must not lose the message."""
    async with running_integrations(
        make_settings,
        make_token,
        tickets_url=f"http://127.0.0.1:{chat.proxy.port}",
        internal_token="not-the-internal-token-0123456789",
    ) as other:
        unit_id = await other.unit("Dinas Chat")
        admin = await other.person("admin")
        response = await other.client.post(
            "/channels",
            json={
                "name": "Salah token",
                "provider": "generic",
                "secret": SECRET,
                "default_unit_id": str(unit_id),
                "default_category_id": chat.category_id,
            },
            headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        raw = json.dumps(generic_body()).encode()
        response = await other.client.post(
            f"/hooks/{response.json()['id']}", content=raw, headers=sign_generic(raw)
        )
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "tickets_unavailable"
        async with other.runtime.sessionmaker() as session:
            assert await session.scalar(sa.select(sa.func.count()).select_from(ChatMessage)) == 0
