"""Hostile input is a 422 naming the field, never a 500 (issue 13): NUL characters and lone
surrogates in any text, instants past conversion, cursors carrying either; and every input
of the OpenAPI document declares it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from helpdesk_common.inputs import NUL_MESSAGE, UNICODE_MESSAGE
from helpdesk_common.pagination import encode_cursor
from helpdesk_testing.inputs import refused, unguarded_inputs

SURROGATE = "a\ud800b"


@pytest.fixture(scope="module")
async def api(start_identity):
    async with start_identity("identity_hostile") as api:
        yield api


async def send(api, method: str, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    """``body`` as JSON with non-ASCII escaped: httpx's own encoder cannot write a lone
    surrogate, JSON's escape can (as a hostile client does)."""
    return await api.client.request(
        method,
        path,
        content=json.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )


def test_every_input_of_the_openapi_document_is_guarded(api) -> None:
    assert unguarded_inputs(api.app.openapi()) == []


async def test_profile_with_a_lone_surrogate_or_nul(api) -> None:
    user = await api.create_user()
    token = await api.token_for(user["username"], "Rahasia-123")
    me = api.bearer(token)
    refused(
        await send(api, "PATCH", "/auth/me", {"full_name": SURROGATE}, me),
        "full_name",
        UNICODE_MESSAGE,
    )
    refused(
        await send(api, "PATCH", "/auth/me", {"full_name": "a\x00b"}, me), "full_name", NUL_MESSAGE
    )
    refused(await send(api, "PATCH", "/auth/me", {"email": "a\x00@b.go.id"}, me), "email")
    profile = await api.client.get("/auth/me", headers=me)
    assert profile.json()["full_name"] == user["full_name"]


async def test_admin_writes_with_nul_or_surrogates(api) -> None:
    admin = await api.admin_headers()
    unit = await api.create_unit()
    user = await api.create_user()
    writes: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/users", {"username": "ab\x00c", "full_name": "X", "role": "agent"}, "username"),
        (
            "POST",
            "/users",
            {"username": "abcd", "full_name": SURROGATE, "role": "agent"},
            "full_name",
        ),
        (
            "POST",
            "/users",
            {"username": "abcd", "full_name": "X", "role": "agent", "password": "Rahasia\x00-123"},
            "password",
        ),
        ("PATCH", f"/users/{user['id']}", {"full_name": "Bu\x00di"}, "full_name"),
        (
            "POST",
            f"/users/{user['id']}/reset-password",
            {"new_password": "Rahasia\x00-12"},
            "new_password",
        ),
        ("POST", "/units", {"code": "U\x00", "name": "Dinas"}, "code"),
        ("POST", "/units", {"code": "UX1", "name": "Din\x00as"}, "name"),
        ("PATCH", f"/units/{unit['id']}", {"contact_name": SURROGATE}, "contact_name"),
        ("PUT", "/organisation", {"name": "Pemkot", "address": "Jl.\x00"}, "address"),
        ("PUT", "/organisation", {"name": "Pemkot", "website": "https://a\x00.id"}, "website"),
    ]
    for method, path, body, field in writes:
        refused(await send(api, method, path, body, admin), field)


async def test_login_and_refresh_with_nul(api) -> None:
    refused(
        await send(api, "POST", "/auth/login", {"username": "ad\x00min", "password": "x"}, {}),
        "username",
    )
    refused(
        await send(api, "POST", "/auth/refresh", {"refresh_token": "a\x00"}, {}), "refresh_token"
    )


async def test_searches_filters_and_cursors(api) -> None:
    admin = await api.admin_headers()
    for path in (
        "/users?q=a%00b",
        "/units?q=%00",
        "/audit-log?entity_id=%00",
        "/audit-log?action=a%00",
    ):
        refused(
            await api.client.get(path, headers=admin), path.split("?")[1].split("=")[0], NUL_MESSAGE
        )
    for name, value in (("since", "0001-01-01T00:00:00Z"), ("until", "9999-12-31T23:59:59-12:00")):
        refused(await api.client.get("/audit-log", params={name: value}, headers=admin), name)
    for path, cursor in (
        ("/users", encode_cursor("users", "Budi\x00", "6f1c7e0e-0000-4000-8000-000000000000")),
        ("/units", encode_cursor("units", SURROGATE, "6f1c7e0e-0000-4000-8000-000000000000")),
        ("/audit-log", encode_cursor("audit-log", "2026-01-01T00:00:00+00:00", 2**63)),
        ("/audit-log", encode_cursor("audit-log", "0001-01-01T00:00:00+14:00", 5)),
    ):
        response = await api.client.get(path, params={"cursor": cursor}, headers=admin)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_cursor"
    for path in ("/users", "/audit-log"):
        refused(await api.client.get(path, params={"limit": 2**64}, headers=admin), "limit")
