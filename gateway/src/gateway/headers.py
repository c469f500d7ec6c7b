"""Response headers the gateway adds to what it answers under ``/api/``.

- ``Cache-Control: no-store`` on every API response that does not say otherwise: tokens
  (login, refresh), people's data and tickets must not stay in a browser's or a proxy's
  cache. A response that sets its own (a file download's ``private, max-age=3600``, an
  event stream's ``no-cache``) keeps it.
- ``X-Content-Type-Options: nosniff`` on every API response, so that no browser reads JSON
  (or an uploaded file) as something else.
- The API documentation (``/api/docs``, its files and ``/api/openapi.json``) gets the web
  client's security headers: no frames, no referrer, and a Content-Security-Policy that
  allows only Swagger UI's own files and its one inline start-up script (by its hash).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/"
DOCS_PATHS = ("/api/docs", "/api/openapi.json")

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def script_hashes(html: str) -> list[str]:
    """The CSP sources ('sha256-...') of the page's inline scripts, so that exactly these
    run and nothing injected does."""
    digests = (hashlib.sha256(script.encode()).digest() for script in _INLINE_SCRIPT.findall(html))
    return [f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests]


def docs_headers(inline_scripts: list[str]) -> dict[str, str]:
    """The docs page's security headers: those of the web client, with a policy that lets
    Swagger UI work. Its CSS and a few of its components set inline styles and its icons
    are data: URIs; "Try it out" calls the API on this origin."""
    return {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self' {' '.join(inline_scripts)};"
            " style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self';"
            " object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
    }


class ApiHeadersMiddleware:
    """Adds the headers above to the responses of ``/api/...`` (the services' through the
    proxy and the gateway's own: its errors, the combined OpenAPI, the docs)."""

    def __init__(self, app: ASGIApp, *, docs: dict[str, str], docs_assets: str) -> None:
        self.app = app
        self.docs = [(name.lower().encode(), value.encode()) for name, value in docs.items()]
        self.docs_assets = docs_assets.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        asset = path.startswith(self.docs_assets)
        added = list(self.docs) if asset or path in DOCS_PATHS else []
        # Swagger UI's files are static and versioned with the package: the browser may
        # keep them (revalidated by their ETag).
        if not asset:
            added.append(_NO_STORE)
        if not any(name == _NOSNIFF[0] for name, _ in added):
            added.append(_NOSNIFF)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_missing(message.get("headers", ()), added)
            await send(message)

        await self.app(scope, receive, send_with_headers)


_NO_STORE = (b"cache-control", b"no-store")
_NOSNIFF = (b"x-content-type-options", b"nosniff")


def _with_missing(
    headers: Iterable[tuple[bytes, bytes]], added: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """``headers`` and those of ``added`` whose name they lack (a response's own
    Cache-Control or policy stays): one pass over raw header pairs, without building a
    header object per response."""
    result = list(headers)
    present = {name.lower() for name, _ in result}
    result.extend(header for header in added if header[0] not in present)
    return result
