"""The one pure ASGI layer the app factory puts in front of a service's routes.

It does what four layers did, each a coroutine call with closures around ``send`` and
``receive`` for every request: the request id and the metrics, the body-size limit
(:mod:`helpdesk_common.body_limit`), the NUL guard on the path and query
(:func:`helpdesk_common.inputs.nul_refusal`) and the retry of a read whose database
connection died (:func:`helpdesk_common.errors.run_read_retrying`), in that order and with
the same answers. What a request does not need costs nothing: the body is counted only when
it may come without a Content-Length, the retry is armed for reads only.
"""

from __future__ import annotations

import time

from prometheus_client.metrics import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpdesk_common.body_limit import declared_length, limit_body, needs_counting, reject_too_large
from helpdesk_common.context import (
    REQUEST_ID_HEADER,
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)
from helpdesk_common.errors import run_read_retrying
from helpdesk_common.inputs import nul_refusal
from helpdesk_common.observability import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    UNMEASURED_ROUTES,
    request_id_of,
    route_template,
)

_REQUEST_ID_OUT = REQUEST_ID_HEADER.encode()
# The metric children per (method, route template, status): prometheus_client's labels()
# takes a lock and builds a key on every call. Bounded, as a client may send any method.
_MAX_CACHED_SERIES = 2000


class ServiceEdgeMiddleware:
    """Request id in and out and in the log context, metrics per route, 413 for a body over
    ``max_body_bytes``, 422 for a NUL in the path or query, and a read run once more on a
    fresh database connection when its own died under it."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope) or new_correlation_id()
        token = set_correlation_id(request_id)
        request_id_header = (_REQUEST_ID_OUT, request_id.encode())
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        try:
            await self._guarded(scope, receive, send_with_id)
        finally:
            route = route_template(scope)
            if route not in UNMEASURED_ROUTES:
                self._observe(scope["method"], route, status, time.perf_counter() - started)
            reset_correlation_id(token)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        if declared_length(scope) > self.max_body_bytes:
            await reject_too_large(send, self.max_body_bytes)
            return
        refusal = nul_refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if needs_counting(scope):
            receive, send = limit_body(receive, send, self.max_body_bytes)
        if scope["method"] in ("GET", "HEAD"):
            await run_read_retrying(self.app, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = (
                HTTP_REQUESTS.labels(method, route, str(status)),
                HTTP_LATENCY.labels(method, route),
            )
            if len(self._series) < _MAX_CACHED_SERIES:
                self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)
