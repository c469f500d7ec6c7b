"""The audit logs in a real browser (Debian's Chromium through Playwright) against the whole
system: an administrator creates a user and changes their role; the identity log in
Indonesian says "Pengguna dibuat" and "Peran: Petugas Kominfo → Administrator" with the
administrator's name as the actor and no UUID anywhere; the actor, action and period
filters narrow the list and live in the URL (a shared link opens the same view); "load
more" pages; the tickets service's master-data log names the category; the page on a phone.

Screenshots land in /tmp/audit/ (audit-*.png) for a person to look at.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from helpdesk_testing import LocalSystem
from helpdesk_testing.browser import (
    DESKTOP,
    PASSWORD,
    PHONE,
    Api,
    create_user,
    fits_phone,
    login,
    sign_in,
)

SHOTS = Path("/tmp/audit")  # noqa: S108 - screenshots for a person to look at
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
EXTRA_UNITS = 51  # one more than a page of the view


@dataclass
class World:
    gateway: str
    tag: str
    admin: dict  # the administrator who acts, as identity lists them
    admin_username: str
    user: dict  # the user they created and promoted
    category: dict


@pytest.fixture(scope="module", autouse=True)
def shots() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)


def jakarta_today() -> str:
    return (datetime.now(UTC) + timedelta(hours=7)).date().isoformat()


@pytest.fixture(scope="module")
async def world(system: LocalSystem, http: httpx.AsyncClient) -> World:
    gateway = system.gateway_url
    root = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    username = f"dewi{tag}"
    dewi: Api = await create_user(
        root, username, PASSWORD, full_name=f"Dewi Lestari {tag}", role="admin"
    )
    me = await dewi.ok("GET", "/api/identity/auth/me")
    user = await dewi.ok(
        "POST",
        "/api/identity/users",
        json={
            "username": f"budi{tag}",
            "full_name": f"Budi Santoso {tag}",
            "role": "agent",
            "password": "sementara-1",
        },
    )
    await dewi.ok("PATCH", f"/api/identity/users/{user['id']}", json={"role": "admin"})
    for n in range(EXTRA_UNITS):
        await dewi.ok(
            "POST", "/api/identity/units", json={"code": f"A{tag}{n}", "name": f"Unit {tag} {n}"}
        )
    # Someone else's change, which the actor filter must leave out.
    await root.ok("POST", "/api/identity/units", json={"code": f"R{tag}", "name": f"Root {tag}"})

    # (The tickets service names the actor from its directory replica, else from the token.)
    category = await dewi.ok("POST", "/api/tickets/categories", json={"name": f"Kamera CCTV {tag}"})
    return World(gateway, tag, me, username, user, category)


async def open_audit(
    browser: Browser,
    world: World,
    errors: list[str],
    *,
    width: int = DESKTOP["width"],
    height: int = DESKTOP["height"],
) -> Page:
    """The audit page, signed in as the administrator who acts."""
    page = await sign_in(
        browser, world.gateway, world.admin_username, PASSWORD, errors, width=width, height=height
    )
    await page.goto(f"{world.gateway}/#/admin/audit")
    await expect(page.locator(".audit-table tbody tr").first).to_be_visible()
    return page


def rows(page: Page):
    return page.locator(".audit-table tbody tr")


async def test_the_identity_log_reads_as_sentences_with_names(browser: Browser, world: World):
    errors: list[str] = []
    page = await open_audit(browser, world, errors)
    name, budi = world.admin["full_name"], f"Budi Santoso {world.tag}"
    await page.screenshot(path=str(SHOTS / "audit-desktop-all.png"))

    # The actor picker: by name, with the role.
    await page.select_option("select[name=actor]", label=f"{name} (Administrator)")
    await expect(page).to_have_url(re.compile(f"actor={world.admin['id']}"))
    await expect(rows(page)).to_have_count(50)  # a page of 50, more to load
    # ... the action select, translated.
    await page.select_option("select[name=action]", label="Pengguna diubah")
    await expect(page).to_have_url(re.compile(r"action=user\.updated"))
    promoted = rows(page).filter(has_text=budi)
    await expect(promoted).to_have_count(1)
    await expect(promoted).to_contain_text("Pengguna diubah")
    await expect(promoted).to_contain_text(name)
    await expect(promoted).to_contain_text("Peran: Petugas Kominfo → Administrator")

    await page.select_option("select[name=action]", label="Pengguna dibuat")
    await expect(rows(page)).to_have_count(1)  # Dewi created Budi only
    created = rows(page).filter(has_text=budi)
    await expect(created).to_contain_text("Pengguna dibuat")
    await expect(created).to_contain_text("Peran: Petugas Kominfo")
    await expect(created).to_contain_text("Status: Aktif")
    await page.screenshot(path=str(SHOTS / "audit-desktop.png"), full_page=True)
    text = await page.locator("main").inner_text()
    assert not UUID.search(text), UUID.search(text)
    assert errors == []


async def test_period_filter_and_a_shared_link(browser: Browser, world: World):
    errors: list[str] = []
    page = await open_audit(browser, world, errors)
    today = jakarta_today()
    yesterday = (datetime.fromisoformat(today) - timedelta(days=1)).date().isoformat()
    await page.select_option("select[name=actor]", value=world.admin["id"])
    await page.select_option("select[name=action]", value="unit.created")
    await expect(rows(page)).to_have_count(50)
    # "Load more" brings the 51st unit.
    await page.get_by_role("button", name="Muat lagi").click()
    await expect(rows(page)).to_have_count(EXTRA_UNITS)
    await expect(page.get_by_role("button", name="Muat lagi")).to_be_hidden()
    assert await rows(page).filter(has_text=f"Root {world.tag}").count() == 0

    await page.fill("input[name=to]", yesterday)
    await page.locator("input[name=to]").dispatch_event("change")
    await expect(page).to_have_url(re.compile(f"to={yesterday}"))
    await expect(page.get_by_text("Tidak ada entri yang cocok dengan saringan.")).to_be_visible()
    await page.fill("input[name=to]", today)
    await page.fill("input[name=from]", today)
    await page.locator("input[name=from]").dispatch_event("change")
    await expect(page).to_have_url(re.compile(f"from={today}.*to={today}|to={today}.*from={today}"))
    await expect(rows(page)).to_have_count(50)
    # A reversed period is refused in the page, nothing sent.
    await page.fill("input[name=from]", today)
    await page.fill("input[name=to]", yesterday)
    await page.locator("input[name=to]").dispatch_event("change")
    await expect(
        page.get_by_text("Tanggal akhir tidak boleh sebelum tanggal awal.")
    ).to_be_visible()

    # The view's URL, opened elsewhere, shows the same filtered list.
    query = f"source=identity&actor={world.admin['id']}&action=user.updated"
    url = f"{world.gateway}/#/admin/audit?{query}"
    other = await sign_in(browser, world.gateway, world.admin_username, PASSWORD, errors)
    await other.goto(url)
    await expect(rows(other)).to_have_count(1)
    await expect(other.locator("select[name=action]")).to_have_value("user.updated")
    await expect(rows(other)).to_contain_text("Peran: Petugas Kominfo → Administrator")
    assert errors == []


async def test_the_master_data_log_and_the_phone(browser: Browser, world: World):
    errors: list[str] = []
    page = await open_audit(browser, world, errors, **PHONE)
    await page.goto(f"{world.gateway}/#/admin/audit?source=tickets&actor={world.admin['id']}")
    entry = rows(page).filter(has_text=f"Kamera CCTV {world.tag}")
    await expect(entry).to_have_count(1)
    await expect(entry).to_contain_text("Kategori dibuat")
    await expect(entry).to_contain_text(world.admin["full_name"])
    await page.screenshot(path=str(SHOTS / "audit-tickets-phone.png"), full_page=True)
    await page.goto(
        f"{world.gateway}/#/admin/audit?source=identity&actor={world.admin['id']}"
        "&action=user.updated"
    )
    await expect(rows(page)).to_have_count(1)
    await fits_phone(page)
    await page.screenshot(path=str(SHOTS / "audit-phone.png"), full_page=True)
    text = await page.locator("main").inner_text()
    assert not UUID.search(text)
    assert errors == []
