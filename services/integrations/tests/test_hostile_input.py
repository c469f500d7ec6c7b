"""Hostile input is a 422 naming the field, never a 500 (issue 13): NUL characters and lone
surrogates in any text, tampered cursors, and every input of the integrations service's
OpenAPI document declares its rule (every domain's routes: mail, chat, webhooks)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from helpdesk_common.inputs import NUL_MESSAGE, UNICODE_MESSAGE
from helpdesk_common.pagination import encode_cursor
from helpdesk_testing.inputs import refused, unguarded_inputs
from integrations.webhooks.models import Webhook

from .conftest import World

SURROGATE = "a\ud800b"


async def send(
    world: World, headers: dict[str, str], method: str, path: str, body: Any
) -> httpx.Response:
    """``body`` as JSON with non-ASCII escaped (a lone surrogate as its escape)."""
    return await world.client.request(
        method,
        path,
        content=json.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )


def test_every_input_of_the_openapi_document_is_guarded(world: World) -> None:
    assert unguarded_inputs(world.app.openapi()) == []


async def test_webhook_fields_with_nul_or_surrogates(world: World) -> None:
    admin = (await world.person("admin")).headers
    good = {
        "name": "ERP",
        "url": "http://example.com/hook",
        "event_types": ["ticket.created"],
    }
    for field, value, message in (
        ("name", "ER\x00P", NUL_MESSAGE),
        ("name", SURROGATE, UNICODE_MESSAGE),
        ("url", "http://example.com/\x00", None),
        ("url", f"http://example.com/{SURROGATE}", None),
        ("secret", "0123456789abcdef\x00", NUL_MESSAGE),
        ("secret", f"0123456789abcdef{SURROGATE}", UNICODE_MESSAGE),
        ("event_types", ["ticket.created\x00"], None),
        ("is_active", 1, None),
    ):
        response = await send(world, admin, "POST", "/webhooks", {**good, field: value})
        where = "event_types.0" if field == "event_types" else field
        refused(response, where, message)
    async with world.runtime.sessionmaker() as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(Webhook))
    assert count == 0  # nothing refused was saved
    missing = f"/webhooks/{uuid.uuid4()}"
    refused(await send(world, admin, "PATCH", missing, {"name": "a\x00"}), "name", NUL_MESSAGE)
    refused(await send(world, admin, "PATCH", missing, {"version": 2**31}), "version")
    refused(await send(world, admin, "PATCH", missing, {"version": True}), "version")


async def test_cursors_queries_and_paths(world: World) -> None:
    admin = (await world.person("admin")).headers
    webhook = await send(
        world,
        admin,
        "POST",
        "/webhooks",
        {"name": "x", "url": "http://203.0.113.10/h", "event_types": ["ticket.created"]},
    )
    assert webhook.status_code == 201, webhook.text
    deliveries = f"/webhooks/{webhook.json()['id']}/deliveries"
    for path, cursor in (
        ("/webhooks", encode_cursor("webhooks", "a\x00", str(uuid.uuid4()))),
        ("/webhooks", encode_cursor("webhooks", "a", "not-a-uuid")),
        (deliveries, encode_cursor("webhook_deliveries", 2**63)),
        (deliveries, encode_cursor("webhook_deliveries", "1")),
        (deliveries, encode_cursor("webhooks", 1)),
    ):
        response = await world.client.get(path, params={"cursor": cursor}, headers=admin)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_cursor"
    refused(await world.client.get(f"{deliveries}?cursor=%00", headers=admin), "cursor")
    refused(await world.client.get(f"{deliveries}?status=sent", headers=admin), "status")
    refused(await world.client.get(f"{deliveries}?limit=0", headers=admin), "limit")
    refused(await world.client.get("/webhooks/a%00b", headers=admin), "path")
