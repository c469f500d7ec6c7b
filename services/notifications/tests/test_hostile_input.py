"""Hostile input is a 422 naming the field, never a 500 (issue 13): NUL characters and lone
surrogates in any text, integers past their column in cursors; and every input of the
OpenAPI document declares it."""

from __future__ import annotations

import json
from typing import Any

import httpx

from helpdesk_common.inputs import NUL_MESSAGE, UNICODE_MESSAGE
from helpdesk_common.pagination import encode_cursor
from helpdesk_testing.inputs import refused, unguarded_inputs
from notifications.settings_admin.models import SmtpSettingsRow

SURROGATE = "a\ud800b"


async def send(service, method: str, path: str, body: Any) -> httpx.Response:
    """``body`` as JSON with non-ASCII escaped (a lone surrogate as its escape)."""
    return await service.client.request(
        method,
        path,
        content=json.dumps(body),
        headers={**service.admin_headers(), "Content-Type": "application/json"},
    )


def test_every_input_of_the_openapi_document_is_guarded(service) -> None:
    assert unguarded_inputs(service.app.openapi()) == []


async def test_smtp_settings_with_nul_or_surrogates(service, smtp_sink) -> None:
    good = {
        "host": "127.0.0.1",
        "port": smtp_sink.port,
        "security": "none",
        "sender": "Helpdesk <helpdesk@example.go.id>",
    }
    for field, value, message in (
        ("host", "smtp\x00.example", None),
        ("username", "help\x00desk", NUL_MESSAGE),
        ("password", "rahasia\x00", NUL_MESSAGE),
        ("password", SURROGATE, UNICODE_MESSAGE),
        ("sender", "Help\x00desk <helpdesk@example.go.id>", NUL_MESSAGE),
    ):
        response = await send(service, "PUT", "/admin/smtp-settings", {**good, field: value})
        refused(response, field, message)
    async with service.sessionmaker() as session:
        stored = await session.get(SmtpSettingsRow, 1)
    assert stored is None  # nothing refused was saved (no other test here saves)
    refused(await send(service, "POST", "/admin/smtp-settings/test", {"to": "a\x00@b.id"}), "to")


async def test_cursors_and_paths(service) -> None:
    admin = service.admin_headers()
    for path, listing in (("/notifications", "notifications"), ("/admin/deliveries", "deliveries")):
        for value in (2**63, "1\x00"):
            response = await service.client.get(
                path, params={"cursor": encode_cursor(listing, value)}, headers=admin
            )
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "invalid_cursor"
        refused(await service.client.get(f"{path}?cursor=%00", headers=admin), "cursor")
    refused(await service.client.get("/admin/dead-letters/a%00b", headers=admin), "path")
