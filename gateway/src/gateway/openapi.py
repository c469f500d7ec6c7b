"""One OpenAPI document for the whole API, merged from the services' own documents.

Each deployed service's ``/openapi.json`` is fetched, its paths are prefixed with
``/api/<service>`` (as the gateway routes them), operation ids and tags get the service name,
and ``components`` are merged: a name defined identically by several services is kept once;
a name defined differently is renamed ``<service>_<name>`` in every service that defines it,
together with all ``$ref`` pointing at it. A service that cannot be reached is left out and
listed in ``x-services``; the merged document is cached briefly (shorter while one is missing).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.auth import is_public
from gateway.proxy import BLOCKED_FIRST_SEGMENTS
from gateway.settings import SERVICES
from gateway.upstreams import Upstream, fetch_json
from helpdesk_common.responses import error_response, error_schemas

log = logging.getLogger("helpdesk.gateway.openapi")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SECURITY_SCHEME = "bearerAuth"
# Where the gateway serves Swagger UI's files (from the swagger-ui-bundle package).
SWAGGER_UI_ASSETS = "/api/docs/assets"
# While a service is missing from the document, try again sooner than the normal cache time.
_RETRY_INCOMPLETE = 5.0


def _is_internal(path: str) -> bool:
    first = next((segment for segment in path.split("/") if segment), "")
    return first in BLOCKED_FIRST_SEGMENTS


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    """A copy of ``node`` with every ``$ref`` found in ``renames`` replaced."""
    if isinstance(node, dict):
        return {
            key: (
                renames.get(value, value)
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value, renames)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _component_renames(documents: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Per service: '#/components/<section>/<name>' -> its new ref, for clashing names.

    Two definitions clash when they differ once their own references are renamed: a page
    model alike in two services (``Page_DeliveryOut_``) but pointing at two different
    ``DeliveryOut`` is two models too. So renaming repeats until nothing new clashes.
    """
    renames: dict[str, dict[str, str]] = {service: {} for service in documents}
    while True:
        definitions: dict[tuple[str, str], dict[str, str]] = {}
        for service, document in documents.items():
            for section, items in (document.get("components") or {}).items():
                if not isinstance(items, dict):
                    continue
                for name, definition in items.items():
                    rewritten = _rewrite_refs(definition, renames[service])
                    canonical = json.dumps(rewritten, sort_keys=True)
                    definitions.setdefault((section, name), {})[service] = canonical
        added = False
        for (section, name), by_service in definitions.items():
            if len(set(by_service.values())) <= 1:
                continue
            old = f"#/components/{section}/{name}"
            for service in by_service:
                if old not in renames[service]:
                    renames[service][old] = f"#/components/{section}/{service}_{name}"
                    added = True
        if not added:
            return renames


def _with_gateway_responses(
    operation: dict[str, Any], *, public: bool, templated: bool
) -> dict[str, Any]:
    """The operation's responses and what the gateway itself answers in front of it: no
    valid token (401, unless public), the rate limit (429), a body over the gateway's
    limit (413), dot segments in a path parameter (400 ``invalid_path``), and the service
    not reachable (503), broken (502) or too slow (504). A status the service declares
    keeps its declaration (the shared ``Error`` body either way)."""
    statuses = {429, 502, 503, 504}
    if not public:
        statuses.add(401)
    if "requestBody" in operation:
        statuses.add(413)
    if templated:
        statuses.add(400)
    responses = dict(operation.get("responses") or {})
    for status in sorted(statuses):
        if str(status) not in responses:
            responses[str(status)] = error_response(status)
    return responses


def merge_documents(
    documents: dict[str, dict[str, Any]],
    services: dict[str, str],
    *,
    version: str = "1",
) -> dict[str, Any]:
    """Merge the services' documents (``{service: openapi}``) into the gateway's document.

    ``services`` is each known service's status ("ok", "unavailable", "not_deployed").
    """
    renames = _component_renames(documents)
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    tags: list[dict[str, Any]] = []
    for service, original in documents.items():
        document = _rewrite_refs(original, renames[service])
        for section, items in (document.get("components") or {}).items():
            if not isinstance(items, dict):
                continue
            merged = components.setdefault(section, {})
            for name, definition in items.items():
                ref = f"#/components/{section}/{name}"
                new_name = renames[service].get(ref, ref).rsplit("/", 1)[1]
                merged[new_name] = definition
        for tag in document.get("tags") or []:
            if isinstance(tag, dict) and "name" in tag:
                tags.append({**tag, "name": f"{service}: {tag['name']}"})
        for path, item in (document.get("paths") or {}).items():
            if _is_internal(path):
                continue
            public_path = f"/api/{service}{path}"
            item = copy.copy(item)
            for method in HTTP_METHODS:
                operation = item.get(method)
                if not isinstance(operation, dict):
                    continue
                operation = dict(operation)
                if "operationId" in operation:
                    operation["operationId"] = f"{service}_{operation['operationId']}"
                operation["tags"] = [f"{service}: {t}" for t in operation.get("tags", [])] or [
                    service
                ]
                public = is_public(method.upper(), public_path)
                if public:
                    operation["security"] = []
                operation["responses"] = _with_gateway_responses(
                    operation, public=public, templated="{" in path
                )
                item[method] = operation
            paths[public_path] = item
    # The gateway's own errors use the shared error shape, whatever the services declare.
    for name, schema in error_schemas().items():
        components.setdefault("schemas", {}).setdefault(name, schema)
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Access token from POST /api/identity/auth/login",
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Helpdesk API",
            "version": version,
            "description": (
                "All services of the helpdesk behind one gateway. Every path needs a bearer "
                "token except signing in, refreshing a token and fetching the public key."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": components,
        "security": [{SECURITY_SCHEME: []}],
        "tags": tags,
        "x-services": services,
    }


class OpenApiAggregator:
    """Fetches and merges the services' documents, cached for ``ttl`` seconds."""

    def __init__(
        self, upstreams: Callable[[], dict[str, Upstream]], *, ttl: float, timeout: float
    ) -> None:
        self._upstreams = upstreams
        self._ttl = ttl
        self._timeout = timeout
        self._document: dict[str, Any] | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def document(self) -> dict[str, Any]:
        if self._document is not None and time.monotonic() < self._expires:
            return self._document
        async with self._lock:  # one refresh at a time; the others take its result
            if self._document is not None and time.monotonic() < self._expires:
                return self._document
            document, complete = await self._build()
            self._document = document
            self._expires = time.monotonic() + (
                self._ttl if complete else min(self._ttl, _RETRY_INCOMPLETE)
            )
            return document

    async def _fetch(self, upstream: Upstream) -> dict[str, Any] | None:
        try:
            status, body = await fetch_json(upstream, "/openapi.json", timeout=self._timeout)
        except Exception as exc:
            log.warning("no OpenAPI document from %s: %s", upstream.name, type(exc).__name__)
            return None
        if status != 200 or not isinstance(body, dict):
            log.warning("no OpenAPI document from %s: HTTP %s", upstream.name, status)
            return None
        return body

    async def _build(self) -> tuple[dict[str, Any], bool]:
        upstreams = self._upstreams()
        fetched = await asyncio.gather(*(self._fetch(u) for u in upstreams.values()))
        documents = {
            name: doc for name, doc in zip(upstreams, fetched, strict=True) if doc is not None
        }
        services = {
            name: (
                "not_deployed"
                if name not in upstreams
                else "ok"
                if name in documents
                else "unavailable"
            )
            for name in SERVICES
        }
        return merge_documents(documents, services), len(documents) == len(upstreams)


def docs_page() -> HTMLResponse:
    """Swagger UI's page. Its files come from the gateway, not a CDN: offices on an intranet
    without internet access get working docs, and no third party sees who reads them (nor
    the online validator: ``validatorUrl`` off). The page is the same on every call, so the
    gateway's Content-Security-Policy allows its inline script by hash (``gateway.headers``)."""
    return get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="Helpdesk API",
        swagger_js_url=f"{SWAGGER_UI_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI_ASSETS}/favicon-32x32.png",
        # Tags folded, with a filter box: Swagger UI 5 drawing all 130-odd operations of an
        # OpenAPI 3.1 document at once never finished in Chromium (swagger-ui#10748: 3.1
        # rendering is slow); a folded tag opens in a fraction of a second.
        swagger_ui_parameters={
            "validatorUrl": None,
            "docExpansion": "none",
            "filter": True,
            "defaultModelsExpandDepth": 0,
        },
    )


def openapi_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/api/openapi.json")
    async def combined_openapi(request: Request) -> JSONResponse:
        aggregator: OpenApiAggregator = request.app.state.openapi
        return JSONResponse(await aggregator.document())

    @router.get("/api/docs")
    async def swagger_ui() -> HTMLResponse:
        return docs_page()

    return router
