"""Browser tests' shared pieces: Debian's Chromium through Playwright (never a downloaded
browser), a small API client with a bearer token, and signing in through the web client's form.

Playwright comes from the workspace's dev group (the root ``pyproject.toml``), like pypdf:
only the browser tests import this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path("/tmp")  # noqa: S108 - screenshots for a person to look at


class Api:
    """Calls through the gateway as one signed-in user."""

    def __init__(self, http: httpx.AsyncClient, gateway: str, token: str) -> None:
        self.http, self.gateway, self.token = http, gateway, token

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return await self.http.request(method, f"{self.gateway}{path}", headers=headers, **kwargs)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


async def login(http: httpx.AsyncClient, gateway: str, username: str, password: str) -> Api:
    response = await http.post(
        f"{gateway}/api/identity/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return Api(http, gateway, response.json()["access_token"])


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless (scripts/test installs it: ``ensure_browser``)."""
    assert await asyncio.to_thread(CHROMIUM.exists), (
        "no /usr/bin/chromium: scripts/test installs it (ensure_browser)"
    )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def sign_in(
    browser: Browser,
    gateway: str,
    username: str,
    password: str,
    errors: list[str],
    *,
    width: int = 1366,
    height: int = 900,
) -> Page:
    """A fresh browser context signed in through the sign-in form; uncaught script errors
    are collected in ``errors``."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(10_000)
    await page.goto(f"{gateway}/#/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await expect(page).not_to_have_url(re.compile(r"#/login"))
    return page


async def create_user(
    admin: Api, username: str, password: str, *, full_name: str, role: str, **extra: Any
) -> Api:
    """A user made by an administrator who has already set their own password (the client
    would otherwise ask them to change it first); returns them signed in."""
    temporary = "sementara-1"
    await admin.ok(
        "POST",
        "/api/identity/users",
        json={
            "username": username,
            "full_name": full_name,
            "role": role,
            "password": temporary,
            **extra,
        },
    )
    first = await login(admin.http, admin.gateway, username, temporary)
    await first.ok(
        "POST",
        "/api/identity/auth/me/password",
        json={"current_password": temporary, "new_password": password},
    )
    return await login(admin.http, admin.gateway, username, password)
