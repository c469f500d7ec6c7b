"""One error shape for every service and the gateway.

{"error": {"code": "validation_error", "message": "...",
           "fields": [{"field": "title", "message": "Field required"}]},
 "request_id": "..."}
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import aiormq.exceptions
import asyncpg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from prometheus_client import Counter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpdesk_common.context import current_correlation_id

log = logging.getLogger("helpdesk.errors")


class DomainError(Exception):
    """A rule of the domain said no. Raised by domain and service code, which know nothing
    of HTTP: the edge (the error handler below) maps each kind to a status code, so
    lifecycle rules can be unit-tested without a web server or a database.

    A plain ``DomainError`` (none of the kinds below) is a 400.
    ``code`` is the stable machine-readable reason, ``message`` the human one, ``field``
    the input it concerns and ``extra`` further facts for the client (e.g. the current
    version of a stale record).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra or {}


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it does."""


class PermissionDenied(DomainError):
    """The caller's role may not do this."""


class InvalidInput(DomainError):
    """The request is well-formed but its values break a rule (usually names a field)."""


class Conflict(DomainError):
    """The current state does not allow this (an illegal transition, a duplicate)."""


class StaleVersion(DomainError):
    """The caller's version of the record is not the current one (optimistic locking)."""


class Unauthenticated(DomainError):
    """No valid credentials (a wrong password, an expired refresh token)."""


class TooManyRequests(DomainError):
    """Throttled; ``retry_after`` seconds until the caller may try again."""

    def __init__(self, code: str, message: str, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(code, message, **kwargs)
        self.retry_after = retry_after


class TooLarge(DomainError):
    """The input is over a configured size (a file, a ticket's files together)."""


class UnsupportedType(DomainError):
    """The input's content is of a kind not accepted here (a file type off the allow-list)."""


class Unavailable(DomainError):
    """A dependency (object storage, a scanner) is down: try again shortly."""


# The edge's one mapping from a domain error to HTTP; the most specific class wins.
DOMAIN_STATUS: dict[type, int] = {
    NotFound: 404,
    PermissionDenied: 403,
    InvalidInput: 422,
    Conflict: 409,
    StaleVersion: 412,
    Unauthenticated: 401,
    TooManyRequests: 429,
    TooLarge: 413,
    UnsupportedType: 415,
    Unavailable: 503,
}


def status_of(error: DomainError) -> int:
    for cls in type(error).__mro__:
        status = DOMAIN_STATUS.get(cls)
        if status is not None:
            return status
    return 400


class ApiError(Exception):
    """Raised by HTTP-layer code (routes, dependencies) for a client-visible error.

    Domain and service code raise a :class:`DomainError` instead.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra or {}
        self.headers = headers


def error_body(
    code: str,
    message: str,
    *,
    fields: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    if extra:
        error.update(extra)
    return {"error": error, "request_id": current_correlation_id()}


def _status_code_name(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


# The label pydantic puts in an error's location for a member of a union
# ("constrained-str", "list[constrained-str]", "function-after[check(), date]"): not a field.
_UNION_MEMBER = re.compile(r"[a-z]+(?:-[a-z]+)+(?:\[.*\])?|[a-z-]+\[.*\]", re.DOTALL)


def _field_path(loc: tuple[Any, ...]) -> str:
    # ("body", "title") -> "title"; ("query", "limit") -> "limit";
    # ("body", "params", "q", "constrained-str") -> "params.q"
    parts = [
        str(p)
        for p in loc
        if p not in ("body", "query", "path", "header")
        and not (isinstance(p, str) and _UNION_MEMBER.fullmatch(p))
    ]
    return ".".join(parts) or "body"


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    fields = [{"field": exc.field, "message": exc.message}] if exc.field else None
    headers = exc.headers
    if exc.status == 401 and headers is None:
        headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse(
        error_body(exc.code, exc.message, fields=fields, extra=exc.extra),
        status_code=exc.status,
        headers=headers,
    )


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = status_of(exc)
    fields = [{"field": exc.field, "message": exc.message}] if exc.field else None
    headers: dict[str, str] | None = None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    elif status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)}
    return JSONResponse(
        error_body(exc.code, exc.message, fields=fields, extra=exc.extra),
        status_code=status,
        headers=headers,
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # A body that is not JSON at all is a 400 naming the body, not a field called '12'.
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "malformed")
            return JSONResponse(
                error_body(
                    "invalid_json",
                    f"The request body is not valid JSON: {reason}",
                    fields=[{"field": "body", "message": f"not valid JSON: {reason}"}],
                ),
                status_code=400,
            )
    # Imported here: helpdesk_common.inputs builds its own 422s with error_body (above).
    from helpdesk_common.inputs import validation_message

    fields = [
        {
            "field": _field_path(tuple(err.get("loc", ()))),
            "message": validation_message(err) or err.get("msg", "invalid"),
        }
        for err in exc.errors()
    ]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return JSONResponse(
        error_body("validation_error", f"Invalid request: {summary}", fields=fields),
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        # The router names only the methods of the first route that matched the path; a
        # path served by several routes (GET and DELETE as two functions) allows them all.
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return JSONResponse(
        error_body(_status_code_name(exc.status_code), message),
        status_code=exc.status_code,
        headers=headers,
    )


def _allowed_methods(request: Request) -> list[str]:
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


RETRY_AFTER_UNAVAILABLE = 5


class BrokerUnavailable(RuntimeError):
    """The service has no connection to the message broker (RabbitMQ) right now."""


_DATABASE_DOWN_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted: what connecting to a database that is down raises
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.ConnectionFailureError,
)
# A connection that was open and died under a request (a restart terminated it), as opposed
# to one that could not be opened: worth one more try on a fresh connection.
_CONNECTION_LOST_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,
)
_BROKER_DOWN_ERRORS: tuple[type[BaseException], ...] = (
    BrokerUnavailable,
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
)
_DRIVER_MODULES = ("asyncpg.", "sqlalchemy.")
_BROKER_MODULES = ("aio_pika.", "aiormq.", "pamqp.")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (its cause, else its context), each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _raised_in(exc: BaseException, modules: tuple[str, ...]) -> bool:
    """Whether ``exc`` passed through the code of ``modules`` (a driver): an OSError raised
    elsewhere (object storage, a file) is no outage of that dependency."""
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(modules):
            return True
        tb = tb.tb_next
    return False


def broker_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the message broker cannot be reached."""
    return any(
        isinstance(current, _BROKER_DOWN_ERRORS)
        or (isinstance(current, OSError) and _raised_in(current, _BROKER_MODULES))
        for current in _chain(exc)
    )


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the database cannot be reached, rather than
    that a statement was wrong. Only what reaching the database raises counts: an
    unexpected error elsewhere stays a 500 with its traceback."""
    return any(_database_down(current) for current in _chain(exc))


def _database_down(exc: BaseException) -> bool:
    if isinstance(exc, _DATABASE_DOWN_ERRORS):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError) and _closed_under_us(exc):
        return True
    if isinstance(exc, asyncpg.exceptions.InternalClientError) and str(exc).startswith(
        "cannot switch to state"
    ):
        # The server's "terminating connection" message reached an idle pooled connection a
        # moment before its socket closed: the next statement finds the protocol still
        # consuming that error.
        return True
    # Connecting timed out, a name did not resolve, every address of a host refused
    # (asyncio's "Multiple exceptions"): whatever asyncpg met on its way to the server.
    return isinstance(exc, OSError) and _raised_in(exc, _DRIVER_MODULES)


def connection_lost(exc: BaseException) -> bool:
    """Whether the database connection under ``exc`` was open and then closed by the server
    (a restart), rather than not there at all: a fresh connection may well work."""
    for current in _chain(exc):
        if isinstance(current, _CONNECTION_LOST_ERRORS):
            return True
        if isinstance(current, asyncpg.exceptions.InterfaceError) and _closed_under_us(current):
            return True
        if isinstance(current, asyncpg.exceptions.InternalClientError):
            return True
    return False


def _closed_under_us(exc: asyncpg.exceptions.InterfaceError) -> bool:
    """The connection or its pool is closed (or closing), or the driver pool took it back
    because the server closed it while a request held it (asyncpg releases a pooled
    connection as soon as it closes: "connection has been released back to the pool")."""
    message = str(exc)
    return any(words in message for words in ("closed", "closing", "released back to the pool"))


def log_failure(logger: logging.Logger, message: str, exc: BaseException) -> None:
    """Log a background task's failure: one line when the database or broker is away (it
    recurs every round of the outage; a traceback would say nothing new), with the
    traceback otherwise."""
    if database_unavailable(exc) or broker_unavailable(exc):
        logger.warning("%s: %s", message, repr(exc).split("\n", 1)[0])
    else:
        logger.error(message, exc_info=exc)


class _OutageLog:
    """One warning when a dependency goes away (and one per minute while it stays away),
    not a traceback per request."""

    def __init__(self, dependency: str, interval: float = 60.0) -> None:
        self.dependency = dependency
        self.interval = interval
        self.last = -interval

    def warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            log.warning(
                "%s unavailable, answering 503: %s: %s",
                self.dependency,
                type(exc).__name__,
                str(exc).split("\n", 1)[0],
            )


@dataclass(frozen=True)
class _Outage:
    code: str
    message: str
    counter: Counter
    log: _OutageLog


DATABASE_UNAVAILABLE = Counter(
    "helpdesk_database_unavailable_total", "Requests answered 503 because the database was down"
)
BROKER_UNAVAILABLE = Counter(
    "helpdesk_broker_unavailable_total", "Requests answered 503 because the broker was down"
)
_DATABASE_OUTAGE = _Outage(
    "database_unavailable",
    "The database is not reachable; try again shortly",
    DATABASE_UNAVAILABLE,
    _OutageLog("database"),
)
_BROKER_OUTAGE = _Outage(
    "broker_unavailable",
    "The message broker is not reachable; try again shortly",
    BROKER_UNAVAILABLE,
    _OutageLog("broker"),
)
# In a request's scope: the request layer's read retry would run it again
# (RETRY_ARMED_KEY), and its database connection died under it, so it will
# (CONNECTION_LOST_KEY).
RETRY_ARMED_KEY = "helpdesk.retry_armed"
CONNECTION_LOST_KEY = "helpdesk.database_connection_lost"


async def _dependency_error(request: Request, exc: Exception) -> JSONResponse:
    """Errors of reaching the database or the broker: 503 ``database_unavailable`` /
    ``broker_unavailable`` with Retry-After, a counter and one log line per outage (handled
    here, not by the catch-all below, which re-raises after answering so that the server
    logs a traceback per request); any other error stays a 500 with its traceback."""
    if broker_unavailable(exc):
        outage = _BROKER_OUTAGE
    elif database_unavailable(exc):
        outage = _DATABASE_OUTAGE
        if connection_lost(exc) and request.scope.pop(RETRY_ARMED_KEY, False):
            # run_read_retrying runs the request again: that run's outcome is the one that counts.
            request.scope[CONNECTION_LOST_KEY] = True
            return _unavailable_response(outage)
    else:
        return await _unhandled(request, exc)
    outage.counter.inc()
    outage.log.warn(exc)
    return _unavailable_response(outage)


def _unavailable_response(outage: _Outage) -> JSONResponse:
    return JSONResponse(
        error_body(outage.code, outage.message),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
    )


async def run_read_retrying(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the read ``app`` (a GET or HEAD), and once more, on a fresh connection, if its
    database connection died under it (a database restart terminates every connection)
    instead of answering 503. Reads change nothing, so running one twice is safe; a write is
    not repeated (it may have committed): it answers 503 and the client decides. Called by
    the app factory's one request layer, :mod:`helpdesk_common.edge`."""
    held = False

    async def hold_a_lost_connections_503(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start" and scope.get(CONNECTION_LOST_KEY):
            held = True
        if not held:
            await send(message)

    scope[RETRY_ARMED_KEY] = True
    await app(scope, receive, hold_a_lost_connections_503)
    scope.pop(RETRY_ARMED_KEY, None)
    if held:
        scope.pop(CONNECTION_LOST_KEY, None)
        await app(scope, _replay_empty_body(receive), send)


def _replay_empty_body(receive: Receive) -> Receive:
    """``receive`` for a second run: the (empty) body of a read once more, then the rest."""
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return again


async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "An unexpected error occurred; it has been logged"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Handled by class here (inside the app, so no traceback per request): each is looked
    # at by _dependency_error, which answers 503 for an outage and 500 for anything else.
    for dependency_error in (
        sqlalchemy.exc.DBAPIError,
        sqlalchemy.exc.TimeoutError,
        asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.PostgresConnectionError,
        asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.TooManyConnectionsError,
        asyncpg.exceptions.AdminShutdownError,
        asyncpg.exceptions.InternalClientError,
        # ConnectionError and TimeoutError, and a failed connect to several addresses
        # ("Multiple exceptions: ..."), the broker's connection errors among them.
        OSError,
        BrokerUnavailable,
        aiormq.exceptions.ChannelInvalidStateError,
    ):
        app.add_exception_handler(dependency_error, _dependency_error)
    app.add_exception_handler(Exception, _unhandled)
