"""The reverse proxy: ``/api/<service>/<rest>`` -> ``{service_url}/<rest>``, streamed both ways.

Pure ASGI on purpose: bodies (attachments) flow through in chunks with back-pressure and are
never held in memory, and the hot path skips FastAPI's routing, dependency injection and
response models, which matters because the gateway shares two cores with the services.

Order of checks for a request: known service (404) -> well-formed path (400) -> token, unless
the route is public (401) -> rate limit (429) -> not a service internal (404: ``/metrics``,
``/health``, and ``/internal/...``, the service-to-service API) -> service deployed (404) ->
body size (413) -> forward. Failures to reach the service are answered as
JSON: connection refused or connect timeout 503 (with Retry-After), no answer within the read
timeout 504, broken HTTP 502. An idempotent request (GET, HEAD, or one with an
``Idempotency-Key``) whose connection the service dropped without answering is sent once
more on a fresh connection first.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from gateway.asgi import send_error
from gateway.auth import TokenVerifier, bearer_token, is_public
from gateway.observability import (
    AUTH_FAILURES,
    METRIC_LABELS_KEY,
    RATE_LIMITED,
    UPSTREAM_ERRORS,
    UPSTREAM_RETRIES,
)
from gateway.ratelimit import RateLimiter, retry_after_header
from gateway.settings import SERVICES, GatewaySettings
from gateway.upstreams import Upstream
from helpdesk_common.client_address import TrustedProxies
from helpdesk_common.errors import ApiError

log = logging.getLogger("helpdesk.gateway.proxy")

# Paths under /api/ that the gateway answers itself (FastAPI routes), not a service.
GATEWAY_API_PATHS = frozenset({"/api/openapi.json", "/api/docs"})
# Served by the gateway itself too: Swagger UI's own files.
GATEWAY_API_PREFIX = "/api/docs/"

# Service endpoints not for the public: ``metrics`` and ``health`` are scraped and probed on
# the services directly, ``internal`` is the service-to-service API (X-Internal-Token), which
# other services call directly. Never forwarded, and left out of the combined API document.
BLOCKED_FIRST_SEGMENTS = frozenset({"metrics", "health", "internal"})

# Connection-level headers (RFC 9110 §7.6.1) plus those the gateway sets itself.
_REQUEST_SKIP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        # uvicorn already answered "100 Continue" when the body was first read.
        b"expect",
        b"host",
        b"x-request-id",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-prefix",
    }
)
_RESPONSE_SKIP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        # The gateway's server adds its own; the middleware adds the request id.
        b"date",
        b"server",
        b"x-request-id",
    }
)
_WWW_AUTHENTICATE = [(b"www-authenticate", b"Bearer")]
_PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_MAX_KNOWN_PREFIXES = 64
_CHUNK = 64 * 1024
# Responses up to this size with a Content-Length are read whole before answering (API
# JSON); larger or unknown-length ones (downloads) are streamed.
_SMALL_RESPONSE = 256 * 1024
# Methods that only read: sent again after a dropped connection without further ado.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Seconds a client should wait after a 503 (the service not reachable) before trying again.
_RETRY_AFTER = b"5"


class _ClientGone(Exception):
    """The client disconnected while its request body was being forwarded."""


class _BodyTooLarge(Exception):
    pass


class _RequestBody:
    """The client's request body, straight from ASGI: the bytes when they came in one
    message (a typical JSON request), else an async iterator of chunks (uploads)."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self.received = 0
        self.done = False
        self.disconnected = False
        self.too_large = False

    def _take(self, message: Message) -> bytes:
        if message["type"] == "http.disconnect":
            self.disconnected = True
            raise _ClientGone
        chunk: bytes = message.get("body", b"")
        self.received += len(chunk)
        if self._limit and self.received > self._limit:
            self.too_large = True
            raise _BodyTooLarge
        if not message.get("more_body", False):
            self.done = True
        return chunk

    async def start(self) -> bytes | AsyncIterator[bytes]:
        """Read the first message; a body complete in it is already in memory anyway, and
        handing it over as bytes spares an async generator per request."""
        first = self._take(await self._receive())
        return first if self.done else self._chunks(first)

    async def _chunks(self, first: bytes) -> AsyncIterator[bytes]:
        if first:
            yield first
        while not self.done:
            chunk = self._take(await self._receive())
            if chunk:
                yield chunk


class _ThrottledLog:
    """At most one warning per (service, kind) every ``interval`` seconds: a dead service at
    hundreds of requests per second must not flood the logs (the metrics keep the count)."""

    def __init__(self, interval: float = 10.0) -> None:
        self._interval = interval
        self._last: dict[tuple[str, str], float] = {}
        self._suppressed: dict[tuple[str, str], int] = {}

    def warning(self, service: str, kind: str, detail: str) -> None:
        key = (service, kind)
        now = time.monotonic()
        if now - self._last.get(key, -self._interval) < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        log.warning(
            "upstream %s: %s (%s); %d similar suppressed", service, kind, detail, suppressed
        )


def _first_segment(rest: str) -> str:
    for segment in rest.split("/"):
        if segment:
            return segment
    return ""


class Proxy:
    """Forwards requests to the upstreams; ``upstreams`` is filled in by the app's lifespan."""

    def __init__(
        self, settings: GatewaySettings, verifier: TokenVerifier, limiter: RateLimiter
    ) -> None:
        self.settings = settings
        # Whose X-Forwarded-For is believed: the ingress in front of the gateway (none by
        # default, so a client cannot pick the address its limits are counted under).
        self.proxies = TrustedProxies.of(settings.trusted_proxies)
        self.verifier = verifier
        self.limiter = limiter
        self.upstreams: dict[str, Upstream] = {}
        self._known_prefixes: dict[str, set[str]] = {name: set() for name in SERVICES}
        self._errors = _ThrottledLog()

    # -- metric labels ---------------------------------------------------------------------

    def _route_label(self, service: str, prefix: str) -> str:
        # Only prefixes the service itself has answered (not 404) become label values, so a
        # client inventing paths cannot blow up the number of time series.
        return f"/{prefix}" if prefix in self._known_prefixes[service] else "other"

    def _learn_prefix(self, service: str, prefix: str, status: int) -> None:
        known = self._known_prefixes[service]
        if (
            status != 404
            and prefix not in known
            and len(known) < _MAX_KNOWN_PREFIXES
            and _PREFIX_PATTERN.fullmatch(prefix)
        ):
            known.add(prefix)

    # -- the request -----------------------------------------------------------------------

    async def handle(
        self, scope: Scope, receive: Receive, send: Send, service: str, rest: str
    ) -> None:
        prefix = _first_segment(rest)
        scope[METRIC_LABELS_KEY] = (service, self._route_label(service, prefix))

        if any(segment in (".", "..") for segment in rest.split("/")):
            await send_error(send, 400, "invalid_path", "Dot segments are not allowed in paths")
            return
        # Settled once: the rate limit's key and the X-Forwarded-For sent on both use it.
        client_ip = self.proxies.client_ip(scope)
        if not await self._admit(scope, send, client_ip):
            return
        # Any case: a service's router is case-sensitive today, but need not stay so.
        if prefix.lower() in BLOCKED_FIRST_SEGMENTS:
            await send_error(send, 404, "not_found", "Not Found")
            return
        upstream = self.upstreams.get(service)
        if upstream is None:
            await send_error(
                send,
                404,
                "service_not_deployed",
                f"The {service} service is not deployed behind this gateway",
            )
            return
        await self._forward(scope, receive, send, upstream, rest, prefix, client_ip)

    async def _admit(self, scope: Scope, send: Send, client_ip: str) -> bool:
        """Authentication and rate limiting; answers the request itself when refusing it."""
        ip_key = "ip:" + client_ip
        if is_public(scope["method"], scope["path"]):
            return await self._take(ip_key, "ip", send)
        if not self.verifier.configured:
            await send_error(send, 503, "auth_not_configured", "The gateway cannot verify tokens")
            return False
        token = bearer_token(scope["headers"])
        if token is None:
            return await self._refuse(
                ip_key, send, "not_authenticated", "A bearer token is required"
            )
        subject = self.verifier.cached_subject(token)
        if subject is None:
            # A token not seen before costs a signature check: a client whose failures
            # already emptied its IP's bucket is refused before spending that CPU.
            if not self.limiter.has_capacity(ip_key):
                return await self._take(ip_key, "ip", send)
            try:
                subject = self.verifier.verify(token)
            except ApiError as exc:
                return await self._refuse(ip_key, send, exc.code, exc.message)
        return await self._take("sub:" + subject, "subject", send)

    async def _take(self, key: str, kind: str, send: Send) -> bool:
        wait = self.limiter.acquire(key)
        if not wait:
            return True
        RATE_LIMITED.labels(kind).inc()
        await send_error(
            send,
            429,
            "rate_limited",
            "Too many requests; slow down and retry later",
            [(b"retry-after", retry_after_header(wait).encode())],
        )
        return False

    async def _refuse(self, ip_key: str, send: Send, code: str, message: str) -> bool:
        # Failed attempts count against the client's address (guessing tokens is not free).
        if not await self._take(ip_key, "ip", send):
            return False
        AUTH_FAILURES.labels(code).inc()
        await send_error(send, 401, code, message, _WWW_AUTHENTICATE)
        return False

    # -- forwarding ------------------------------------------------------------------------

    def _request_headers(self, scope: Scope, service: str, client_ip: str) -> CIMultiDict[str]:
        raw: list[tuple[bytes, bytes]] = scope["headers"]
        # Headers named in "Connection" are hop-by-hop too (RFC 9110 §7.6.1).
        extra_skip: set[bytes] = set()
        host = b""
        for key, value in raw:
            if key == b"connection":
                extra_skip.update(t.strip().lower() for t in value.split(b","))
            elif key == b"host":
                host = value
        headers: CIMultiDict[str] = CIMultiDict()
        for key, value in raw:
            if key not in _REQUEST_SKIP and key not in extra_skip:
                headers.add(key.decode("latin-1"), value.decode("latin-1"))
        headers["X-Request-ID"] = scope["request_id"]
        # The client's address by the trusted-proxy rule (helpdesk_common.client_address):
        # replaced, not appended, so a service trusting the gateway reads just this one.
        headers["X-Forwarded-For"] = client_ip
        headers["X-Forwarded-Proto"] = scope.get("scheme", "http")
        if host:
            headers["X-Forwarded-Host"] = host.decode("latin-1")
        headers["X-Forwarded-Prefix"] = f"/api/{service}"
        return headers

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        rest: str,
        prefix: str,
        client_ip: str,
    ) -> None:
        service = upstream.name
        limit = self.settings.max_request_body_bytes
        has_body = False
        for key, value in scope["headers"]:
            if key == b"content-length":
                if limit and value.isdigit() and int(value) > limit:
                    await send_error(
                        send, 413, "payload_too_large", f"The request body exceeds {limit} bytes"
                    )
                    return
                has_body = value != b"0"
            elif key == b"transfer-encoding":
                has_body = True
        body = _RequestBody(receive, limit)
        data: bytes | AsyncIterator[bytes] | None = None
        try:
            if has_body:
                data = await body.start()
            else:
                body.done = True
        except (_ClientGone, _BodyTooLarge) as exc:
            await self._upstream_failed(send, service, body, exc)
            return

        request = _UpstreamRequest(
            method=scope["method"],
            url=upstream.url(_upstream_raw_path(scope, service, rest), _query(scope)),
            headers=self._request_headers(scope, service, client_ip),
            data=data,
        )
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        # Only a request that may run twice, and whose body can be sent again (in memory).
        retryable = _idempotent(scope) and not isinstance(data, AsyncIterator)
        try:
            response = await self._send(upstream, upstream.session_for(accept), request, retryable)
        except Exception as exc:
            await self._upstream_failed(send, service, body, exc)
            return

        try:
            await self._respond(scope, receive, send, response, body, prefix, service)
        finally:
            response.release()

    async def _send(
        self,
        upstream: Upstream,
        session: aiohttp.ClientSession,
        request: _UpstreamRequest,
        retryable: bool,
    ) -> aiohttp.ClientResponse:
        """Send ``request``; when the service dropped the connection without an answer (a
        worker killed, a service restarting, a pooled keep-alive connection it had closed)
        and the request is idempotent, once more on a fresh connection."""
        try:
            return await _attempt(session, request, retryable)
        except (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientOSError,
            aiohttp.ClientPayloadError,
        ) as exc:
            # A connect that failed is no dropped connection: the service is down (503).
            if not retryable or isinstance(exc, aiohttp.ClientConnectorError):
                raise
            self._errors.warning(upstream.name, "dropped", f"{type(exc).__name__}: {exc}")
        try:
            response = await _attempt(upstream.fresh, request, retryable)
        except Exception:
            UPSTREAM_RETRIES.labels(upstream.name, "failed").inc()
            raise
        UPSTREAM_RETRIES.labels(upstream.name, "answered").inc()
        return response

    async def _respond(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        response: aiohttp.ClientResponse,
        body: _RequestBody,
        prefix: str,
        service: str,
    ) -> None:
        status = response.status
        self._learn_prefix(service, prefix, status)
        scope[METRIC_LABELS_KEY] = (
            service,
            self._route_label(service, prefix) if status != 404 else "other",
        )
        start = {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (key.lower(), value)
                for key, value in response.raw_headers
                if key.lower() not in _RESPONSE_SKIP
            ],
        }
        length = response.content_length
        if scope["method"] == "HEAD" or status in (204, 304):
            await send(start)
            await send({"type": "http.response.body", "body": b""})
        elif length is not None and length <= _SMALL_RESPONSE:
            # A small body of known size (API JSON): read it before answering, so a service
            # failing half-way still gets a proper JSON error, and send it in one message.
            try:
                payload = await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                await self._upstream_failed(send, service, body, exc)
                return
            await send(start)
            await send({"type": "http.response.body", "body": payload})
        else:
            await send(start)
            if body.done:
                await self._stream_until_disconnect(response, send, receive, service)
            else:
                await self._stream(response, send, service)

    async def _stream(self, response: aiohttp.ClientResponse, send: Send, service: str) -> None:
        try:
            async for chunk in response.content.iter_chunked(_CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Headers are out, so no JSON error is possible any more: end without the final
            # message and the server closes the connection, which tells the client the body
            # is incomplete (short of Content-Length, or no last chunk).
            UPSTREAM_ERRORS.labels(service, "stream").inc()
            self._errors.warning(service, "stream", type(exc).__name__)
            return
        await send({"type": "http.response.body", "body": b""})

    async def _stream_until_disconnect(
        self, response: aiohttp.ClientResponse, send: Send, receive: Receive, service: str
    ) -> None:
        """Stream a large body, but stop reading the service once the client has gone
        (the server silently drops what is sent to a closed connection)."""
        pump = asyncio.ensure_future(self._stream(response, send, service))
        watch = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait((pump, watch), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            if not pump.done():
                pump.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
        if pump.done() and not pump.cancelled():
            error = pump.exception()
            if error is not None:
                raise error

    async def _upstream_failed(
        self, send: Send, service: str, body: _RequestBody, exc: Exception
    ) -> None:
        if body.disconnected:
            return  # nobody left to answer
        if body.too_large:
            limit = self.settings.max_request_body_bytes
            await send_error(
                send, 413, "payload_too_large", f"The request body exceeds {limit} bytes"
            )
            return
        if isinstance(exc, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError):
            kind, status, code = "connect", 503, "service_unavailable"
            message = f"The {service} service is not reachable; try again shortly"
        elif isinstance(exc, TimeoutError):
            kind, status, code = "timeout", 504, "gateway_timeout"
            message = f"The {service} service did not answer in time"
        elif isinstance(exc, aiohttp.ClientError | OSError):
            kind, status, code = "protocol", 502, "bad_gateway"
            message = f"The {service} service gave an invalid or no response"
        else:
            raise exc
        UPSTREAM_ERRORS.labels(service, kind).inc()
        self._errors.warning(service, kind, f"{type(exc).__name__}: {exc}")
        retry_after = [(b"retry-after", _RETRY_AFTER)] if status == 503 else None
        await send_error(send, status, code, message, retry_after)


@dataclass(frozen=True)
class _UpstreamRequest:
    """What goes to the service, kept so that it can be sent a second time."""

    method: str
    url: URL
    headers: CIMultiDict[str]
    data: bytes | AsyncIterator[bytes] | None

    async def send(self, session: aiohttp.ClientSession) -> aiohttp.ClientResponse:
        return await session.request(
            self.method, self.url, headers=self.headers, data=self.data, allow_redirects=False
        )


async def _attempt(
    session: aiohttp.ClientSession, request: _UpstreamRequest, retryable: bool
) -> aiohttp.ClientResponse:
    """Send ``request`` once. For a request that may be retried, a small answer (read whole
    before answering anyway, see Proxy._respond) is read here already, so that a service
    dying half-way through it counts as a dropped connection too."""
    response = await request.send(session)
    length = response.content_length
    if (
        retryable
        and request.method != "HEAD"
        and response.status not in (204, 304)
        and length is not None
        and length <= _SMALL_RESPONSE
    ):
        try:
            await response.read()  # kept by the response: _respond's read() returns it
        except BaseException:
            response.release()
            raise
    return response


def _idempotent(scope: Scope) -> bool:
    """Whether running the request twice does what running it once does: a read, or a
    write the service deduplicates by its Idempotency-Key."""
    if scope["method"] in _SAFE_METHODS:
        return True
    return any(key == b"idempotency-key" for key, _ in scope["headers"])


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


def _query(scope: Scope) -> str:
    return scope.get("query_string", b"").decode("latin-1")


def _upstream_raw_path(scope: Scope, service: str, rest: str) -> str:
    """The service-side path, still percent-encoded exactly as the client sent it (so an
    encoded ``%2F`` stays one path segment)."""
    raw: bytes = scope.get("raw_path") or b""
    raw = raw.split(b"?", 1)[0]
    prefix = b"/api/" + service.encode()
    if raw.startswith(prefix) and raw[len(prefix) : len(prefix) + 1] in (b"/", b""):
        path = raw[len(prefix) :].decode("latin-1")
    else:
        # The client percent-encoded part of the prefix itself; re-encode the decoded rest.
        path = quote(rest, safe="/:@!$&'()*+,;=-._~")
    return path or "/"


class ProxyDispatcher:
    """ASGI middleware: service paths go to the proxy, everything else to the FastAPI app."""

    def __init__(self, app: ASGIApp, proxy: Proxy) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith("/api/")
            or path in GATEWAY_API_PATHS
            or path.startswith(GATEWAY_API_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        service, _, rest = path[5:].partition("/")
        if service not in SERVICES:
            scope[METRIC_LABELS_KEY] = ("gateway", "other")
            await send_error(send, 404, "not_found", f"No service is called {service!r}")
            return
        await self.proxy.handle(scope, receive, send, service, "/" + rest)
