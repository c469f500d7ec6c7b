"""Browser tests' shared pieces: Debian's Chromium through Playwright (never a downloaded
browser), a small API client with a bearer token, signing in through the web client's form,
an office of people set up for a test module, filing a ticket, and the phone's screen.

Playwright comes from the workspace's dev group (the root ``pyproject.toml``), like pypdf:
only the whole system's tests (``tests/``) import this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

import httpx
from playwright.async_api import Browser, Page, async_playwright, expect

from helpdesk_testing.polling import eventually
from helpdesk_testing.system import LocalSystem

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
# Everyone ``set_up_office`` makes signs in with this password (already their own).
PASSWORD = "rahasia-kuat-1"  # noqa: S105 - a throwaway test system's password


class Viewport(TypedDict):
    """A browser window's size in CSS pixels (``sign_in``'s ``width`` and ``height``)."""

    width: int
    height: int


PHONE: Viewport = {"width": 390, "height": 844}
DESKTOP: Viewport = {"width": 1366, "height": 900}


class SignInOptions(TypedDict, total=False):
    """``sign_in``'s settings of the browser context, passed on by the helpers that sign in."""

    width: int
    height: int
    timezone_id: str
    locale: str
    init_script: str


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
    """Signs in through the gateway's API: the user's client with their access token."""
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
    width: int = DESKTOP["width"],
    height: int = DESKTOP["height"],
    timezone_id: str | None = None,
    locale: str | None = None,
    init_script: str | None = None,
) -> Page:
    """A fresh browser context signed in through the sign-in form; uncaught script errors
    are collected in ``errors``. The context may be given a time zone and a locale (else
    the browser's own), and a script that runs in every page before the page's own."""
    context = await browser.new_context(
        viewport={"width": width, "height": height}, timezone_id=timezone_id, locale=locale
    )
    if init_script is not None:
        await context.add_init_script(init_script)
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


async def first_category_id(api: Api) -> str:
    """The id of the first active ticket category (the tickets service's default ones)."""
    categories = await api.ok("GET", "/api/tickets/categories")
    return str(categories[0]["id"])


@dataclass(frozen=True)
class Office:
    """A unit of its own and the people a test module works with, each known by a kind
    ("agent", "requester", ...); names carry the module's random ``tag``."""

    gateway: str
    tag: str
    admin: Api  # the system's own administrator
    unit: dict[str, Any]
    people: dict[str, Api]  # kind -> signed in through the API
    usernames: dict[str, str]  # kind -> username (password: PASSWORD)
    full_names: dict[str, str]
    emails: dict[str, str]  # kind -> e-mail address (empty without ``emails=True``)
    category_id: str  # a ticket category to file tickets in


async def set_up_office(
    system: LocalSystem,
    http: httpx.AsyncClient,
    *,
    unit_name: str,
    code_prefix: str,
    people: Mapping[str, str],
    emails: bool = False,
) -> Office:
    """A new unit (its name and code tagged at random) and a user for each kind of
    ``people`` (kind -> role), made by the administrator with PASSWORD set as their own;
    requesters belong to the unit. With ``emails`` each has an address at example.go.id."""
    gateway = system.gateway_url
    admin = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    unit = await admin.ok(
        "POST",
        "/api/identity/units",
        json={"code": f"{code_prefix}{tag}".upper(), "name": f"{unit_name} {tag}"},
    )
    apis: dict[str, Api] = {}
    usernames: dict[str, str] = {}
    full_names: dict[str, str] = {}
    addresses: dict[str, str] = {}
    for kind, role in people.items():
        usernames[kind] = f"{code_prefix}{kind.replace('_', '')}{tag}".lower()
        full_names[kind] = f"{kind.replace('_', ' ').title()} {tag}"
        extra: dict[str, str] = {"unit_id": unit["id"]} if role == "requester" else {}
        if emails:
            addresses[kind] = extra["email"] = f"{usernames[kind]}@example.go.id"
        apis[kind] = await create_user(
            admin, usernames[kind], PASSWORD, full_name=full_names[kind], role=role, **extra
        )
    return Office(
        gateway=gateway,
        tag=tag,
        admin=admin,
        unit=unit,
        people=apis,
        usernames=usernames,
        full_names=full_names,
        emails=addresses,
        category_id=await first_category_id(admin),
    )


async def open_as(
    browser: Browser,
    office: Office,
    kind: str,
    errors: list[str],
    **options: Unpack[SignInOptions],
) -> Page:
    """A fresh browser page signed in as the office's person of this kind (``sign_in``)."""
    return await sign_in(
        browser, office.gateway, office.usernames[kind], PASSWORD, errors, **options
    )


async def file_ticket(filed_by: Api, **fields: Any) -> dict[str, Any]:
    """A ticket filed through the API with these fields. The tickets service learns new
    units and users from identity's events: asked again until it accepts the ticket (201)."""

    async def attempt() -> dict[str, Any] | None:
        response = await filed_by.call("POST", "/api/tickets/tickets", json=fields)
        return response.json() if response.status_code == 201 else None

    ticket: dict[str, Any] = await eventually(attempt, timeout=20, interval=0.2)
    return ticket


async def fits_phone(page: Page) -> None:
    """Asserts the page is no wider than the phone's screen (nothing scrolls sideways)."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{width} px wide on a {PHONE['width']} px phone"
