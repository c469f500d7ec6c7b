"""The API documentation page in a real browser (Debian's Chromium through Playwright) under
the gateway's security headers (issue 13, item 3): its Content-Security-Policy lets Swagger
UI's files and its one inline start-up script run (Swagger UI draws the page), the browser
reports no policy violation, no request leaves the gateway, and the combined OpenAPI 3.1
document (FastAPI's) renders as operations (Swagger UI 5, from fastapi-swagger; Swagger UI 4
could not read 3.1 and drew "Unable to render this definition").

A screenshot lands in /tmp/apidocs/ (apidocs.png) for a person to look at.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Browser, expect

from helpdesk_testing import LocalSystem

SHOTS = Path("/tmp/apidocs")  # noqa: S108 - screenshots for a person to look at


async def test_the_docs_page_works_under_its_content_security_policy(
    browser: Browser, system: LocalSystem
) -> None:
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    page = await context.new_page()
    console: list[str] = []
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: requests.append(request.url))

    response = await page.goto(f"{system.gateway_url}/api/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self' 'sha256-" in response.headers["content-security-policy"]
    # Swagger UI's inline start-up script ran (allowed by its hash) and drew its root; it
    # fetched the combined document with the page's own origin.
    await expect(page.locator("#swagger-ui .swagger-ui").first).to_be_attached(timeout=15_000)
    async with page.expect_response("**/api/openapi.json") as fetched:
        await page.reload()
    assert (await fetched.value).status == 200
    await expect(page.locator("#swagger-ui .swagger-ui").first).to_be_attached(timeout=15_000)
    # Every service's sections (folded), and a section opens to its operations.
    tags = page.locator(".opblock-tag")
    await expect(tags.nth(20)).to_be_visible(timeout=15_000)
    await tags.filter(has_text="tickets: tickets").first.click()
    await expect(page.locator(".opblock").nth(10)).to_be_visible(timeout=15_000)
    await expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    await page.wait_for_timeout(500)  # late violations, if any, reach the console

    def violation(message: str) -> bool:
        return "Content Security Policy" in message or "Refused to" in message

    assert not [m for m in console if violation(m)], console
    assert errors == []
    assert all(url.startswith(system.gateway_url) for url in requests), requests
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "apidocs.png"), full_page=True)
    await context.close()
