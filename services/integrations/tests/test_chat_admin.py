"""The chat channels' administration API (issue 14 section 4): administrators only, secrets
write-only and encrypted at rest, versions, keyset pages, and clear refusals."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from helpdesk_testing.inputs import refused, unguarded_inputs
from helpdesk_testing.migrations import model_differences
from integrations.chat.models import ChatChannel
from integrations.models import metadata

from .conftest import Person, World, running_integrations

SECRET = "generic-secret-0123456789abcdef"


@pytest.fixture(scope="module")
async def world(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[World]:
    async with running_integrations(make_settings, make_token) as started:
        yield started


@pytest.fixture(scope="module")
async def admin(world: World) -> Person:
    global UNIT_ID
    UNIT_ID = await world.unit("Dinas Kanal")
    return await world.person("admin")


def keyed(who: Person) -> dict[str, str]:
    return {**who.headers, "Idempotency-Key": uuid.uuid4().hex}


UNIT_ID = uuid.UUID(int=0)  # replaced by the module's unit (see `admin`)


def channel_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "WhatsApp Layanan TI",
        "provider": "whatsapp",
        "secret": "meta-app-secret-0123456789",
        "verify_token": "verify-token-123",
        "default_unit_id": str(UNIT_ID),
        "default_category_id": str(uuid.uuid4()),
    }
    body.update(fields)
    return body


async def create(world: World, admin: Person, **fields: Any) -> dict[str, Any]:
    response = await world.client.post(
        "/channels", json=channel_body(**fields), headers=keyed(admin)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def hook_status(world: World, channel_id: str, secret: str) -> int:
    """The hook's answer to a message signed with ``secret``: 401 for a wrong secret; with
    the right one the signature passes and (no tickets service here) the answer is 503."""
    raw = json.dumps(
        {
            "message_id": uuid.uuid4().hex,
            "conversation_id": "c",
            "sender": {"id": "1", "name": "A", "phone": "+62 811 000"},
            "text": "Halo",
        }
    ).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    response = await world.client.post(
        f"/hooks/{channel_id}",
        content=raw,
        headers={
            "X-Helpdesk-Timestamp": timestamp,
            "X-Helpdesk-Signature": f"sha256={digest.hexdigest()}",
        },
    )
    return response.status_code


async def test_a_channel_is_created_with_its_secrets_write_only(
    world: World, admin: Person
) -> None:
    body = channel_body()
    out = await create(world, admin, **body)
    assert {k: out[k] for k in ("name", "provider", "default_unit_id", "is_active")} == {
        "name": body["name"],
        "provider": "whatsapp",
        "default_unit_id": body["default_unit_id"],
        "is_active": True,
    }
    assert out["has_secret"] is True and out["has_verify_token"] is True
    assert "secret" not in out and "verify_token" not in out
    assert out["webhook_path"] == f"/api/integrations/hooks/{out['id']}"
    assert out["version"] == 1 and out["last_message_at"] is None
    async with world.runtime.sessionmaker() as session:
        row = await session.get(ChatChannel, uuid.UUID(out["id"]))
    assert row is not None
    assert body["secret"] not in row.secret_encrypted  # encrypted at rest
    assert world.runtime.cipher.decrypt(row.secret_encrypted) == body["secret"]
    got = await world.client.get(f"/channels/{out['id']}", headers=admin.headers)
    assert got.status_code == 200 and got.json() == out


async def test_a_whatsapp_channel_needs_its_verify_token(world: World, admin: Person) -> None:
    body = channel_body()
    del body["verify_token"]
    response = await world.client.post("/channels", json=body, headers=keyed(admin))
    refused(response, "verify_token")
    assert response.json()["error"]["code"] == "verify_token_required"
    generic = channel_body(provider="generic")
    del generic["verify_token"]
    response = await world.client.post("/channels", json=generic, headers=keyed(admin))
    assert response.status_code == 201, response.text
    assert response.json()["has_verify_token"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "a\u0000b"}, "name"),
        ({"provider": "telegram"}, "provider"),
        ({"secret": "short"}, "secret"),
        ({"default_unit_id": "x"}, "default_unit_id"),
        ({"default_unit_id": str(uuid.uuid4())}, "default_unit_id"),
        ({"is_active": "yes"}, "is_active"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_channel_is_422_naming_the_field(
    world: World, admin: Person, change: dict[str, Any], field: str
) -> None:
    before = await world.client.get("/channels", params={"limit": 100}, headers=admin.headers)
    response = await world.client.post(
        "/channels", json=channel_body(**change), headers=keyed(admin)
    )
    refused(response, field)
    after = await world.client.get("/channels", params={"limit": 100}, headers=admin.headers)
    assert len(after.json()["items"]) == len(before.json()["items"])


async def test_patch_keeps_a_secret_left_out_and_changes_a_given_one(
    world: World, admin: Person
) -> None:
    out = await create(world, admin, provider="generic", secret=SECRET, verify_token=None)
    assert await hook_status(world, out["id"], SECRET) == 503  # signature passed
    response = await world.client.patch(
        f"/channels/{out['id']}", json={"name": "Chat web"}, headers=keyed(admin)
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["version"]) == ("Chat web", 2)
    assert response.json()["updated_at"] >= out["updated_at"]
    assert await hook_status(world, out["id"], SECRET) == 503
    new_secret = "rotated-secret-0123456789abcdef"
    response = await world.client.patch(
        f"/channels/{out['id']}", json={"secret": new_secret, "version": 2}, headers=keyed(admin)
    )
    assert response.status_code == 200, response.text
    assert "secret" not in response.json()
    assert await hook_status(world, out["id"], SECRET) == 401
    assert await hook_status(world, out["id"], new_secret) == 503


async def test_patch_refuses_a_stale_version_and_nulls(world: World, admin: Person) -> None:
    out = await create(world, admin)
    response = await world.client.patch(
        f"/channels/{out['id']}", json={"name": "X", "version": 7}, headers=keyed(admin)
    )
    assert response.status_code == 412
    assert response.json()["error"]["code"] == "version_mismatch"
    for field in ("name", "secret", "is_active", "default_unit_id"):
        response = await world.client.patch(
            f"/channels/{out['id']}", json={field: None}, headers=keyed(admin)
        )
        refused(response, field)
    response = await world.client.patch(
        f"/channels/{out['id']}", json={"verify_token": None}, headers=keyed(admin)
    )
    refused(response, "verify_token")  # a WhatsApp channel keeps one
    response = await world.client.patch(
        f"/channels/{out['id']}", json={"default_unit_id": str(uuid.uuid4())}, headers=keyed(admin)
    )
    refused(response, "default_unit_id")
    assert response.json()["error"]["code"] == "unknown_unit"
    got = await world.client.get(f"/channels/{out['id']}", headers=admin.headers)
    assert got.json()["version"] == 1 and got.json()["name"] == out["name"]


async def test_list_pages_newest_first_and_delete(world: World, admin: Person) -> None:
    made = [await create(world, admin, name=f"Kanal {i}") for i in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await world.client.get("/channels", params=params, headers=admin.headers)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [c["id"] for c in made]
    assert [i for i in seen if i in ids] == ids[::-1]
    response = await world.client.get(
        "/channels", params={"cursor": "nonsense"}, headers=admin.headers
    )
    refused(response, "cursor")
    response = await world.client.delete(f"/channels/{ids[0]}", headers=keyed(admin))
    assert response.status_code == 204
    for method in ("GET", "DELETE"):
        response = await world.client.request(method, f"/channels/{ids[0]}", headers=keyed(admin))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "channel_not_found"


async def test_only_administrators(world: World, admin: Person) -> None:
    out = await create(world, admin)
    for role in ("agent", "leader", "requester"):
        who = await world.person(role)
        for method, path, body in (
            ("GET", "/channels", None),
            ("POST", "/channels", channel_body()),
            ("GET", f"/channels/{out['id']}/messages", None),
            ("PATCH", f"/channels/{out['id']}", {"name": "X"}),
        ):
            response = await world.client.request(method, path, json=body, headers=keyed(who))
            assert response.status_code == 403, (role, method, path)
    response = await world.client.get("/channels")
    assert response.status_code == 401


async def test_a_create_replayed_with_its_key_makes_one_channel(
    world: World, admin: Person
) -> None:
    headers = keyed(admin)
    body = channel_body(name=f"Sekali {uuid.uuid4().hex[:6]}")
    first = await world.client.post("/channels", json=body, headers=headers)
    again = await world.client.post("/channels", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    async with world.runtime.sessionmaker() as session:
        count = await session.scalar(
            sa.select(sa.func.count())
            .select_from(ChatChannel)
            .where(ChatChannel.name == body["name"])
        )
    assert count == 1


async def test_every_chat_input_is_declared_guarded(world: World) -> None:
    document = world.app.openapi()
    found = [
        entry for entry in unguarded_inputs(document) if "/channels" in entry or "/hooks" in entry
    ]
    assert found == []
    hook = document["paths"]["/hooks/{channel_id}"]
    assert "401" in hook["post"]["responses"] and "403" in hook["get"]["responses"]


async def test_the_messages_of_an_unknown_channel_are_404(world: World, admin: Person) -> None:
    response = await world.client.get(f"/channels/{uuid.uuid4()}/messages", headers=admin.headers)
    assert response.status_code == 404
    response = await world.client.get(
        f"/channels/{uuid.uuid4()}/messages", params={"outcome": "lost"}, headers=admin.headers
    )
    refused(response, "outcome")


async def test_migration_0003_makes_the_chat_tables_as_the_models_declare(world: World) -> None:
    assert {"chat_channels", "chat_messages", "chat_conversations"} <= set(metadata.tables)
    async with world.runtime.engine.connect() as connection:
        differences = await connection.run_sync(model_differences, metadata)
    assert [d for d in differences if "chat_" in repr(d)] == []
