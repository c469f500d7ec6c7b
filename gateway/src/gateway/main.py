"""The gateway application: ``uvicorn gateway.main:create_app --factory``.

Request path through the ASGI stack (outermost first):
GatewayContextMiddleware (request id, metrics) -> CORSMiddleware (if origins are configured)
-> ApiHeadersMiddleware (no-store and nosniff on /api/, the docs' security headers)
-> ProxyDispatcher (``/api/<service>/...`` to the services) -> FastAPI routes (health,
metrics, combined OpenAPI, Swagger UI) and the web client's static files at ``/``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from gateway.auth import TokenVerifier
from gateway.headers import ApiHeadersMiddleware, docs_headers, script_hashes
from gateway.health import health_router
from gateway.observability import GatewayContextMiddleware
from gateway.openapi import SWAGGER_UI_ASSETS, OpenApiAggregator, docs_page, openapi_router
from gateway.proxy import Proxy, ProxyDispatcher
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from gateway.upstreams import close_upstreams, create_upstreams
from helpdesk_common.context import REQUEST_ID_HEADER
from helpdesk_common.errors import install_error_handlers
from helpdesk_common.observability import NO_OPENTELEMETRY, configure_logging

log = logging.getLogger("helpdesk.gateway")

WEB_DIR = Path(__file__).parent / "web"

_WEB_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # img-src blob:: the organisation's logo and a ticket's images are fetched with the token
    # and shown from blob URLs (an <img> cannot send the Authorization header); frame-src
    # blob:: a ticket's PDF is previewed the same way, in an <iframe>.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob:; frame-src blob:; frame-ancestors 'none';"
        " base-uri 'none'"
    ),
}


# Swagger UI 5's files (fastapi-swagger ships them; we mount them ourselves, under our headers).
SWAGGER_UI_FILES = Path(str(resources.files("fastapi_swagger") / "resources"))


class WebClientFiles(StaticFiles):
    """The web client's files, with headers that keep the sign-in page out of frames and
    stop browsers from guessing content types."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_WEB_HEADERS)
        return response


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    verifier = TokenVerifier(
        public_key=settings.jwt_public_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        cache_size=settings.token_cache_size,
    )
    limiter = RateLimiter(rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst)
    proxy = Proxy(settings, verifier, limiter)
    aggregator = OpenApiAggregator(
        lambda: proxy.upstreams,
        ttl=settings.openapi_cache_seconds,
        timeout=max(settings.health_timeout, 2.0),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        configure_logging(service="gateway", level=settings.log_level, json=settings.log_json)
        proxy.upstreams = create_upstreams(settings)
        if not verifier.configured:
            log.error("no GATEWAY_JWT_PUBLIC_KEY: every protected /api path will answer 503")
        log.info(
            "gateway started (pid %s); services: %s",
            os.getpid(),
            ", ".join(f"{n}={u.base_url}" for n, u in proxy.upstreams.items()) or "none",
        )
        try:
            yield
        finally:
            await close_upstreams(proxy.upstreams)
            proxy.upstreams = {}

    app = FastAPI(
        title="Helpdesk gateway",
        lifespan=lifespan,
        # The public document is the merged one at /api/openapi.json.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Prometheus metrics only (GatewayContextMiddleware): see NO_OPENTELEMETRY.
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.settings = settings
    app.state.proxy = proxy
    app.state.openapi = aggregator
    install_error_handlers(app)
    app.include_router(health_router())
    app.include_router(openapi_router())
    app.mount(SWAGGER_UI_ASSETS, StaticFiles(directory=SWAGGER_UI_FILES), name="swagger-ui")
    app.mount("/", WebClientFiles(directory=WEB_DIR, html=True), name="web")

    # add_middleware wraps: the last one added is the outermost.
    app.add_middleware(ProxyDispatcher, proxy=proxy)
    # Outside the proxy, so that the gateway's own answers (401, 429, 503) get them too.
    app.add_middleware(
        ApiHeadersMiddleware,
        docs=docs_headers(script_hashes(bytes(docs_page().body).decode())),
        docs_assets=SWAGGER_UI_ASSETS,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept-Language", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After", "Content-Disposition", "Location"],
            # Bearer tokens travel in a header, not in cookies.
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(GatewayContextMiddleware)
    return app
