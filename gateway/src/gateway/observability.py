"""Request ids and Prometheus metrics for everything the gateway answers.

The services' request layer (``helpdesk_common.edge``) labels requests by the FastAPI route
template, which the proxied requests do not have (they never reach FastAPI's router); the
gateway labels them by upstream service and route prefix instead, so it has a middleware of
its own that keeps the same request-id contract (header ``X-Request-ID``, the shared
correlation-id context).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpdesk_common.context import (
    REQUEST_ID_HEADER,
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)

REQUESTS = Counter(
    "gateway_requests_total",
    "Requests answered by the gateway, by upstream service (or 'gateway'), route prefix, status",
    ["service", "route", "status"],
)
LATENCY = Histogram(
    "gateway_request_duration_seconds",
    "Time to answer a request, including the upstream service's time",
    ["service", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors_total",
    "Failed calls to a service, by kind (connect, timeout, protocol)",
    ["service", "kind"],
)
UPSTREAM_RETRIES = Counter(
    "gateway_upstream_retries_total",
    "Idempotent requests sent again on a fresh connection after the service dropped the "
    "first one, by outcome (answered: the retry got a response; failed: it did not either)",
    ["service", "outcome"],
)
RATE_LIMITED = Counter(
    "gateway_rate_limited_total", "Requests refused with 429, by key kind", ["key"]
)
AUTH_FAILURES = Counter(
    "gateway_auth_failures_total", "Requests refused with 401, by error code", ["code"]
)

# Where the proxy leaves (service, route prefix) for the middleware to label the request with.
METRIC_LABELS_KEY = "gateway.metric_labels"
_UNLABELLED = ("/metrics", "/health/live", "/health/ready")
_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()
_REQUEST_ID_OUT = REQUEST_ID_HEADER.encode()
_MAX_CACHED_SERIES = 2000


def request_id_from(scope: Scope) -> str | None:
    """A client-supplied request id, if it is short and printable (it ends up in logs)."""
    for key, value in scope["headers"]:
        if key == _REQUEST_ID_KEY:
            text = value.decode("latin-1")[:128]
            return text if text and text.isprintable() else None
    return None


class GatewayContextMiddleware:
    """Pure ASGI: request id in, out and in the log context; one metric sample per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope) or new_correlation_id()
        scope["request_id"] = request_id
        token = set_correlation_id(request_id)
        status = 500
        started = time.perf_counter()
        encoded_id = request_id.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_REQUEST_ID_OUT, encoded_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            labels = scope.get(METRIC_LABELS_KEY)
            if labels is None:
                route = getattr(scope.get("route"), "path", None)
                labels = ("gateway", route or "static")
            if labels[1] not in _UNLABELLED:
                self._observe(labels, status, time.perf_counter() - started)
            reset_correlation_id(token)

    def _observe(self, labels: tuple[str, str], status: int, seconds: float) -> None:
        # The metric children per (service, route, status), as prometheus_client's labels()
        # takes a lock and builds a key on every call; routes are bounded (Proxy._route_label).
        key = (*labels, status)
        series = self._series.get(key)
        if series is None:
            series = (REQUESTS.labels(labels[0], labels[1], str(status)), LATENCY.labels(*labels))
            if len(self._series) < _MAX_CACHED_SERIES:
                self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)
