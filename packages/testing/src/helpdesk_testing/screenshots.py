"""A failing browser test leaves a screenshot of every page it had open (a pytest plugin,
loaded by ``helpdesk_testing.plugin``).

Every test that uses the ``browser`` fixture (tests/conftest.py: Debian's Chromium through
Playwright) gets the fixture below as well. When the test's call fails, the report names the
files in a section of its own ("browser screenshots": printed with the failure), and the
fixture's teardown, still on the test's event loop, saves each open page of each of the
browser's contexts there: ``.local/test-screenshots/<test>/<context>-<page>.png`` under the
repository (``HELPDESK_TEST_SCREENSHOTS`` for another folder). The folder of a test is
emptied when it fails again, so what is there is the latest failure. Tests close their
contexts when they pass, so the pages still open at a failure are that test's.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

FIXTURE = "browser_failure_screenshots"
_PLANNED = pytest.StashKey[list[tuple[Any, Path]]]()


def screenshot_dir(config: pytest.Config, nodeid: str) -> Path:
    base = os.environ.get("HELPDESK_TEST_SCREENSHOTS")
    root = Path(base) if base else config.rootpath / ".local" / "test-screenshots"
    return root / re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Added after the test's own fixtures: set up after the browser, torn down before it.
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is not None and "browser" in names and FIXTURE not in names:
            names.append(FIXTURE)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.when == "call" and report.failed and browser is not None:
        folder = screenshot_dir(item.config, item.nodeid)
        planned = [
            (page, folder / f"{c}-{p}.png")
            for c, context in enumerate(browser.contexts, start=1)
            for p, page in enumerate(context.pages, start=1)
        ]
        if planned:
            item.stash[_PLANNED] = planned
            report.sections.append(
                ("browser screenshots", "\n".join(str(path) for _, path in planned))
            )
    return report


@pytest.fixture
async def browser_failure_screenshots(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Saves the pages the report named, once the test has failed (see the module)."""
    yield
    planned = request.node.stash.get(_PLANNED, [])
    if not planned:
        return
    folder = planned[0][1].parent
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for page, path in planned:
        # A page may have crashed or closed meanwhile: the others are still worth having.
        with contextlib.suppress(Exception):
            await page.screenshot(path=str(path), full_page=True, timeout=5_000)
