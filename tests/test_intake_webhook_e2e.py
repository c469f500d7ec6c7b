"""Issue 14, chat channels, on the whole system started the README's way: an administrator
makes a channel through the gateway; the provider's hook needs no token there (it is signed
instead), a wrong signature is refused at the edge too (401, nothing made), and a signed
message becomes a ticket the agents see, once."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import login

SECRET = "e2e-chat-secret-0123456789abcdef"

# Run alone, the test's set-up starts the whole system (the session's fixture): on a loaded
# machine that alone can take most of the default 120 s.
pytestmark = pytest.mark.timeout(300)


def signed(raw: bytes, secret: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Helpdesk-Timestamp": timestamp,
        "X-Helpdesk-Signature": f"sha256={digest.hexdigest()}",
    }


async def test_a_signed_chat_message_becomes_a_ticket_through_the_gateway(
    system: LocalSystem, http: httpx.AsyncClient
) -> None:
    gateway = system.gateway_url
    admin = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6].upper()
    unit = await admin.ok(
        "POST",
        "/api/identity/units",
        json={"code": f"CHAT{tag}", "name": f"Dinas Chat {tag}"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )

    async def tickets_know_the_unit() -> bool:
        units = await admin.ok("GET", "/api/tickets/units")
        items = units["items"] if isinstance(units, dict) else units
        return any(u["id"] == unit["id"] for u in items)

    await eventually(tickets_know_the_unit, timeout=30)
    categories = await admin.ok("GET", "/api/tickets/categories")
    body = {
        "name": "Chat situs web",
        "provider": "generic",
        "secret": SECRET,
        "default_unit_id": unit["id"],
        "default_category_id": categories[0]["id"],
    }

    async def channel_made() -> dict[str, Any] | None:
        # The integrations service learns the unit from identity's events too.
        response = await admin.call(
            "POST",
            "/api/integrations/channels",
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if response.status_code == 422:
            return None
        assert response.status_code == 201, response.text
        return dict(response.json())

    channel = await eventually(channel_made, timeout=30)
    hook = f"{gateway}{channel['webhook_path']}"
    assert channel["webhook_path"] == f"/api/integrations/hooks/{channel['id']}"
    # Without a token the admin API is closed at the edge ...
    closed = await http.get(f"{gateway}/api/integrations/channels")
    assert closed.status_code == 401
    message = {
        "message_id": f"e2e-{uuid.uuid4().hex}",
        "conversation_id": f"conv-{uuid.uuid4().hex}",
        "sender": {"id": "v-1", "name": "Pengunjung Situs", "email": "pengunjung@example.com"},
        "text": "Formulir pengaduan di situs tidak bisa dikirim",
    }
    raw = json.dumps(message).encode()
    # ... the hook is not, but a wrong signature is 401 there, and nothing is made.
    wrong = await http.post(hook, content=raw, headers=signed(raw, "not-the-secret-0123456789"))
    assert wrong.status_code == 401, wrong.text
    assert wrong.json()["error"]["code"] == "invalid_signature"
    unsigned = await http.post(hook, content=raw, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    log = await admin.ok("GET", f"/api/integrations/channels/{channel['id']}/messages")
    assert log["items"] == []
    # Signed right, and no Authorization header at all: a ticket.
    response = await http.post(hook, content=raw, headers=signed(raw, SECRET))
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["outcome"] == "ticket"
    ticket = await admin.ok("GET", f"/api/tickets/tickets/{result['ticket_id']}")
    assert ticket["title"] == message["text"]
    assert ticket["channel"] == "webhook"
    assert ticket["contact_email"] == "pengunjung@example.com"
    # The provider's retry makes nothing new.
    again = await http.post(hook, content=raw, headers=signed(raw, SECRET))
    assert again.status_code == 200 and again.json()["results"][0]["duplicate"] is True
    log = await admin.ok("GET", f"/api/integrations/channels/{channel['id']}/messages")
    assert [(m["outcome"], m["ticket_number"]) for m in log["items"]] == [
        ("ticket", ticket["number"])
    ]
