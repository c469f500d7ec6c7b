"""One whole system, started the README's way, shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser

from helpdesk_testing import LocalSystem, local_system
from helpdesk_testing.browser import chromium

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
async def system(
    tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> AsyncIterator[LocalSystem]:
    async with local_system(
        root=ROOT,
        state_dir=tmp_path_factory.mktemp("system-state"),
        run_id=run_id,
    ) as started:
        yield started
    assert started.process.returncode == 0, "".join(started.output[-50:])


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client for the tests' own API calls (set-up, mail catcher)."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium through Playwright, for the browser tests (one per module)."""
    async with chromium() as launched:
        yield launched
