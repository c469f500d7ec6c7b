"""A database restart (every connection terminated) while people sign in, refresh their
tokens and read: 503s at worst, never a 500, and sign-in works right after."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx

from helpdesk_testing.outages import terminate_backends, through_restarts

from .conftest import Api


async def test_a_database_restart_gives_no_500_and_sign_in_works_right_after(
    start_identity: Callable[..., AbstractAsyncContextManager[Api]], database_url: str
) -> None:
    async with start_identity(f"identity_outage_{uuid.uuid4().hex[:6]}") as api:
        admin = await api.admin_headers()

        async def login() -> httpx.Response:
            return await api.login("admin", api.admin_password, ip=api.unique_ip())

        async def refresh() -> httpx.Response:
            signed_in = await login()
            if signed_in.status_code != 200:
                return signed_in
            token = signed_in.json()["refresh_token"]
            return await api.client.post("/auth/refresh", json={"refresh_token": token})

        async def restart() -> int:
            return await terminate_backends(database_url, api.settings.service_name)

        outcomes = await through_restarts(
            {
                "login": login,
                "refresh": refresh,
                "me": lambda: api.client.get("/auth/me", headers=admin),
                "users": lambda: api.client.get("/users", headers=admin),
            },
            restart,
        )
        assert outcomes.terminated > 0
        outcomes.assert_no_server_errors()
        assert outcomes.count("refresh", 200) > 0 and outcomes.count("users", 200) > 0

        assert await restart() > 0
        assert (await login()).status_code == 200
        assert (await api.client.get("/users", headers=admin)).status_code == 200
