"""The web client's static files: served with the right types, complete, and offline.

No browser: the gateway serves the files, and the tests follow index.html's references and
every ES module import from there, so a missing or misnamed module fails here rather than
as a blank page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin

from gateway.main import WEB_DIR

# <script src="..."> and <link href="..."> in index.html.
HTML_REFERENCE = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.IGNORECASE)
# import x from "./a.js"; import "./a.js"; export {x} from "./a.js"; import("./a.js")
JS_IMPORT = re.compile(
    r"""(?:\bimport\s*\(\s*|\b(?:import|export)\b[^'";()]*?\bfrom\s*|\bimport\s+)["']([^"']+)["']"""
)
EXTERNAL_URL = re.compile(r"""https?://[^\s"'`)<>]+""", re.IGNORECASE)
PROTOCOL_RELATIVE = re.compile(r"""["'`(]//[A-Za-z0-9]""")
# An XML namespace name (document.createElementNS): an identifier, never fetched.
ALLOWED_URLS = {"http://www.w3.org/2000/svg"}
# A library's license banner ("/*! ... */") names its home page: text, never fetched.
LICENSE_BANNER = re.compile(r"/\*!.*?\*/", re.DOTALL)
# Third-party files copied in as published (see vendor/*.LICENSE.md): served, loaded and
# held to the no-external-hosts and no-HTML-sinks rules, not to this client's own API rules.
VENDOR = "/vendor/"

CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


def web_files(*suffixes: str) -> list[str]:
    return sorted(
        "/" + path.relative_to(WEB_DIR).as_posix()
        for path in WEB_DIR.rglob("*")
        if path.is_file() and path.suffix in suffixes
    )


async def test_index_and_every_file_it_loads_are_served_with_their_types(
    run_gateway: Callable[..., Any],
):
    async with run_gateway() as client:
        index = await client.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        references = HTML_REFERENCE.findall(index.text)
        assert "app.js" in references
        assert "styles.css" in references

        served: dict[str, str] = {}
        queue = [urljoin("/", ref) for ref in references]
        while queue:
            path = queue.pop()
            if path in served:
                continue
            response = await client.get(path)
            assert response.status_code == 200, f"{path}: HTTP {response.status_code}"
            content_type = response.headers["content-type"].split(";")[0].strip()
            suffix = PurePosixPath(path).suffix
            # Browsers refuse ES modules served with a non-JavaScript type.
            assert content_type == CONTENT_TYPES[suffix], f"{path} served as {content_type}"
            assert response.headers["x-content-type-options"] == "nosniff"
            served[path] = content_type
            if suffix == ".js":
                for specifier in JS_IMPORT.findall(response.text):
                    assert specifier.startswith(("./", "../")), (
                        f"{path} imports {specifier!r}: only relative modules (no packages, no CDN)"
                    )
                    queue.append(urljoin(path, specifier))

        # Every module on disk is reached from index.html: nothing forgotten or misnamed.
        assert set(web_files(".js")) <= set(served)
        assert "/styles.css" in served


def test_no_external_hosts_in_the_client():
    for path in web_files(".js", ".css", ".html", ".svg"):
        text = LICENSE_BANNER.sub("", (WEB_DIR / path.lstrip("/")).read_text(encoding="utf-8"))
        external = set(EXTERNAL_URL.findall(text)) - ALLOWED_URLS
        assert not external, f"{path} refers to external hosts: {sorted(external)}"
        assert not PROTOCOL_RELATIVE.search(text), f"{path} has a protocol-relative URL"


def test_client_follows_the_content_security_policy():
    # default-src 'self': no inline scripts, inline event handlers or style attributes.
    index = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", index, flags=re.IGNORECASE):
        assert "src=" in tag, f"inline script in index.html: {tag}"
    assert not re.search(r"\son[a-z]+=", index, flags=re.IGNORECASE)
    assert not re.search(r"\sstyle=", index, flags=re.IGNORECASE)
    # User content goes into the page as text, never parsed as HTML.
    for path in web_files(".js"):
        text = (WEB_DIR / path.lstrip("/")).read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert sink not in text, f"{path} uses {sink}"


def test_client_pages_lists_with_cursors_only():
    # Every service's lists page with keyset cursors ({items, next_cursor}, ?cursor=&limit=):
    # a client sending ?offset= would silently see only the first page. (The ticket list's
    # first page also says how many tickets match, `total`: a figure to show, and capped,
    # so never a way to count pages; the client pages by next_cursor alone.)
    for path in web_files(".js"):
        if path.startswith(VENDOR):
            continue
        text = (WEB_DIR / path.lstrip("/")).read_text(encoding="utf-8")
        assert not re.search(r"\boffset\b", text), f"{path} pages with offsets"
        assert not re.search(r"\btotal\s*/", text), f"{path} computes pages from a total"
