"""Retry-safe writes: the ``Idempotency-Key`` header of every service's creates and changes.

A client that may send a write twice (a retry after a timeout, a double click) sends a key
of its choosing with it. The first request with a key does the work and records the key, a
fingerprint of the request and the response it got; a repeat within ``idempotency_hours``
gets that response again (with ``Idempotent-Replayed: true``) and does nothing; the same key
with another request is 422 ``idempotency_key_reused``. Keys are per caller (the
authenticated user): two users' equal keys are unrelated.

Exactly once, also under concurrency and across replicas: the key is claimed in the same
database transaction as the work (``INSERT ... ON CONFLICT``), so a concurrent request with
the same key waits on the key's unique index until the first commits, then replays its
response (or, if the first rolled back, does the work itself). The response is recorded
before the commit, in that transaction, so the work and its recorded answer commit together.
Only successes (2xx) are recorded: an error rolls the key back with the work, so the client
may correct the request and send it again with the same key.

How it joins a route's unit of work: a route class, :class:`IdempotentRoute`, wraps the
handler FastAPI builds for each of its write routes (:func:`idempotent_handler`): it opens
the transaction, claims the key, runs the route with the transaction current
(:data:`joined_transaction`: the request's session is bound to it, the route's own
``session.begin()`` becoming a savepoint, and the driver pool's ``acquire()`` lends its
connection, so the tickets service's statements that commit by themselves commit with it),
closes the route's dependencies, records the serialised response (status, the headers that
matter, body) and commits; FastAPI then sends it. Work that waits for a commit (waking the
outbox relay, mail senders) waits for this one (:mod:`helpdesk_common.aftercommit`), and a
replay commits nothing, so it publishes no event.

A service opts in with ``APIRouter(route_class=IdempotentRoute)``: every POST, PUT, PATCH and
DELETE of the router takes the header (documented in its OpenAPI), unless the endpoint is
marked :func:`not_idempotent`; :func:`secret_fields` names request and response fields that
must never be stored (passwords). Requests without the header, or without a valid bearer
token (login; the route answers 401 itself), run as before. The app factory sweeps expired
keys (:func:`sweep_idempotency_keys`) for every service with such routes; each service
creates the ``idempotency_keys`` table in its schema with a migration
(:func:`create_idempotency_table`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar, cast

import asyncpg
import sqlalchemy as sa
from fastapi import Depends, Header, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import Response
from fastapi.routing import APIRoute
from prometheus_client import Counter
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from helpdesk_common.aftercommit import HELD_BY, Held, holding
from helpdesk_common.auth import get_principal
from helpdesk_common.errors import ApiError

if TYPE_CHECKING:
    from helpdesk_common.runtime import Runtime

log = logging.getLogger("helpdesk.idempotency")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Printable ASCII (space to tilde), as HTTP header values safely carry it.
_KEY = re.compile(r"[\x20-\x7e]+")
# The same, as it survives HTTP (which trims a header value's outer spaces).
KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$"
# What a replay repeats of the first response's headers; the rest (request id, length,
# date) belongs to each response itself.
STORED_HEADERS = frozenset(
    {"content-type", "location", "etag", "content-disposition", "content-language"}
)

IDEMPOTENT_WRITES = Counter(
    "helpdesk_idempotent_writes_total",
    "Writes with an Idempotency-Key, by outcome: done (recorded), replayed, reused (422),"
    " not_recorded (an error: the key stays free)",
    ["outcome"],
)

idempotency_metadata = sa.MetaData()

idempotency_keys_table = sa.Table(
    "idempotency_keys",
    idempotency_metadata,
    # Whose key: the caller's user id (keys are per caller, as at Stripe).
    sa.Column("principal", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    # sha256 of the method, path, query and body: the same key with another request is refused.
    sa.Column("fingerprint", sa.Text, nullable=False),
    # The response, recorded in the claiming transaction before it commits: a committed row
    # always has one (NULL only inside that transaction, which nobody else sees).
    sa.Column("status_code", sa.SmallInteger, nullable=True),
    sa.Column("headers", pg.JSONB, nullable=True),
    sa.Column("body", sa.LargeBinary, nullable=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

sa.Index("ix_idempotency_keys_created_at", idempotency_keys_table.c.created_at)


class _MigrationContext(Protocol):
    def get_bind(self) -> Connection: ...


def create_idempotency_table(op: _MigrationContext) -> None:
    """Called from a service's migration: the ``idempotency_keys`` table in its schema."""
    idempotency_metadata.create_all(op.get_bind())


def drop_idempotency_table(op: _MigrationContext) -> None:
    idempotency_metadata.drop_all(op.get_bind())


# -- the header -------------------------------------------------------------------------------

KEY_DESCRIPTION = (
    "Makes this write safe to retry: send a fresh random key (e.g. a UUID; at most"
    f" {MAX_KEY_LENGTH} printable ASCII characters) per user action and the same key when"
    " sending that action again. The same key with the same request within 24 hours"
    " (the service's IDEMPOTENCY_HOURS) returns the first response again, with"
    f" `{REPLAYED_HEADER}: true`, without doing anything; with another request it is 422"
    " `idempotency_key_reused`. Only successful responses are kept: after an error the key"
    " is still free. Keys are per user."
)


def check_key(value: str) -> str:
    """``value`` as a key, or 422 ``invalid_idempotency_key`` naming the header."""
    if len(value) > MAX_KEY_LENGTH or not _KEY.fullmatch(value):
        raise ApiError(
            422,
            "invalid_idempotency_key",
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            field=HEADER,
        )
    return value


async def idempotency_key(
    value: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description=KEY_DESCRIPTION,
            # Declared for clients and the contract fuzzer; check_key enforces it (the
            # route's wrapper, before anything else, with its own error code).
            json_schema_extra={
                "pattern": KEY_PATTERN,
                "minLength": 1,
                "maxLength": MAX_KEY_LENGTH,
            },
        ),
    ] = None,
) -> str | None:
    """Dependency: the request's ``Idempotency-Key`` (checked), or None."""
    return None if value is None else check_key(value)


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


def key_reused() -> ApiError:
    return ApiError(
        422,
        "idempotency_key_reused",
        f"This {HEADER} was used for another request; use a new key",
        field=HEADER,
    )


# -- fingerprints -------------------------------------------------------------------------------


def fingerprint(
    *, method: str, path: str, query: bytes, body: bytes, secrets: Iterable[str] = ()
) -> str:
    """sha256 of the request: method, path, query and body (a JSON body canonicalised, so
    the order of its keys and its spacing do not count; ``secrets``, top-level fields that
    must not be stored even hashed, left out)."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, _canonical(body, secrets)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _canonical(body: bytes, secrets: Iterable[str]) -> bytes:
    try:
        value = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return body  # not JSON (a file): its bytes
    value = _without(value, secrets)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _without(value: Any, secrets: Iterable[str]) -> Any:
    if isinstance(value, dict):
        left_out = set(secrets)
        return {k: v for k, v in value.items() if k not in left_out}
    return value


# -- the transaction a request's work joins -------------------------------------------------


@dataclass(eq=False)
class JoinedTransaction:
    """The transaction of an idempotent write: its connection (SQLAlchemy's and the
    driver's underneath) and what waits for its commit."""

    connection: AsyncConnection
    driver: asyncpg.Connection
    held: Held = field(default_factory=Held)
    committed: bool = False

    async def commit(self) -> None:
        await self.connection.commit()
        self.committed = True


joined_transaction: ContextVar[JoinedTransaction | None] = ContextVar(
    "helpdesk_joined_transaction", default=None
)


def joined_session_options() -> dict[str, Any]:
    """Keyword arguments for a request's session: bound to the joined transaction, if any
    (the route's ``session.begin()`` is a savepoint in it, and commit callbacks wait for it)."""
    joined = joined_transaction.get()
    if joined is None:
        return {}
    return {
        "bind": joined.connection,
        "join_transaction_mode": "create_savepoint",
        "info": {HELD_BY: joined.held},
    }


class JoinedConnections:
    """Stands in for the driver pool inside a joined transaction: ``acquire()`` lends its
    connection (statements that commit by themselves outside one commit with it here)."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    def acquire(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        return nullcontext(self._connection)  # lent, not released: the request ends it


def joined_connections() -> JoinedConnections | None:
    joined = joined_transaction.get()
    return None if joined is None else JoinedConnections(joined.driver)


# -- claiming and recording -------------------------------------------------------------------

# Claims the key: a new row, or an expired one taken over. A concurrent claim of the same
# key waits here until the first transaction ends. RETURNING nothing: the key is taken.
_CLAIM = sa.text("""
INSERT INTO idempotency_keys AS k (principal, key, fingerprint, created_at)
VALUES (:principal, :key, :fingerprint, now())
ON CONFLICT (principal, key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at,
        status_code = NULL, headers = NULL, body = NULL
    WHERE k.created_at < now() - make_interval(secs => :seconds)
RETURNING true""")

_READ = sa.text("""
SELECT fingerprint, status_code, headers, body FROM idempotency_keys
WHERE principal = :principal AND key = :key""")

_RECORD = sa.text("""
UPDATE idempotency_keys SET status_code = :status_code, headers = :headers, body = :body
WHERE principal = :principal AND key = :key""").bindparams(sa.bindparam("headers", type_=pg.JSONB))


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes

    def replay(self) -> Response:
        headers = {**self.headers, REPLAYED_HEADER: "true"}
        return Response(self.body, status_code=self.status_code, headers=headers)


async def _claim(
    connection: AsyncConnection, *, principal: str, key: str, fingerprint: str, hours: float
) -> StoredResponse | None:
    """Claim ``key`` in ``connection``'s transaction: None if it is ours now (do the work),
    else the first response; 422 if that was another request."""
    names = {"principal": principal, "key": key}
    claimed = await connection.execute(
        _CLAIM, {**names, "fingerprint": fingerprint, "seconds": hours * 3600}
    )
    if claimed.first() is not None:
        return None
    row = (await connection.execute(_READ, names)).one()
    if row.fingerprint != fingerprint:
        raise key_reused()
    if row.status_code is None:  # a committed row always has its response (see the table)
        raise RuntimeError(f"idempotency key {key!r} of {principal} has no response")
    return StoredResponse(row.status_code, dict(row.headers), bytes(row.body))


async def _record(
    connection: AsyncConnection, *, principal: str, key: str, response: StoredResponse
) -> None:
    await connection.execute(
        _RECORD,
        {
            "principal": principal,
            "key": key,
            "status_code": response.status_code,
            "headers": response.headers,
            "body": response.body,
        },
    )


@asynccontextmanager
async def _transaction(runtime: Runtime) -> AsyncIterator[JoinedTransaction]:
    """A transaction on a pooled connection: rolled back unless the caller committed it
    (also on an error); then what waited for its outcome runs."""
    async with runtime.engine.connect() as connection:
        await connection.begin()
        raw = await connection.get_raw_connection()
        # SQLAlchemy types the driver's connection as Any; with the asyncpg dialect it is
        # asyncpg's (None only once closed, which get_raw_connection just ruled out).
        joined = JoinedTransaction(connection, cast(asyncpg.Connection, raw.driver_connection))
        try:
            yield joined
        finally:
            if joined.committed:
                joined.held.committed()
            else:
                try:
                    await connection.rollback()
                finally:
                    joined.held.rolled_back()


# -- the route's handler ----------------------------------------------------------------------


def _stored(response: Response, secrets: frozenset[str]) -> StoredResponse:
    headers = {name: value for name, value in response.headers.items() if name in STORED_HEADERS}
    body = bytes(response.body)
    if secrets and headers.get("content-type", "").startswith("application/json"):
        body = _blanked(body, secrets)
    return StoredResponse(response.status_code, headers, body)


def _blanked(body: bytes, secrets: frozenset[str]) -> bytes:
    """The JSON ``body`` with its top-level ``secrets`` set to null (they are not stored)."""
    try:
        value = json.loads(body)
    except ValueError:
        return body
    if not isinstance(value, dict):
        return body
    return json.dumps({k: None if k in secrets else v for k, v in value.items()}).encode()


def _recordable(response: Response) -> bool:
    """A success whose body is all there (not a stream, which is never recorded)."""
    return 200 <= response.status_code < 300 and isinstance(getattr(response, "body", None), bytes)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def idempotent_handler(handler: Handler, *, secrets: frozenset[str] = frozenset()) -> Handler:
    """``handler`` (a route's, as FastAPI builds it) run at most once per key and caller."""

    async def run(request: Request) -> Response:
        raw_key = request.headers.get(HEADER)
        if raw_key is None or request.method not in WRITE_METHODS:
            return await handler(request)
        try:
            principal = await get_principal(request)
        except ApiError:
            return await handler(request)  # the route refuses the caller itself
        key = check_key(raw_key)
        runtime: Runtime = request.app.state.runtime
        request_fingerprint = fingerprint(
            method=request.method,
            path=request.url.path,
            query=request.scope.get("query_string", b""),
            body=await request.body(),  # kept by the request for the route
            secrets=secrets,
        )
        names = {"principal": str(principal.user_id), "key": key}
        async with _transaction(runtime) as joined:
            try:
                first = await _claim(
                    joined.connection,
                    **names,
                    fingerprint=request_fingerprint,
                    hours=runtime.settings.idempotency_hours,
                )
            except ApiError:
                IDEMPOTENT_WRITES.labels("reused").inc()
                raise
            if first is not None:
                IDEMPOTENT_WRITES.labels("replayed").inc()
                return first.replay()
            response = await _run_joined(handler, request, joined)
            if not _recordable(response):
                IDEMPOTENT_WRITES.labels("not_recorded").inc()
                if response.status_code >= 300:
                    return response  # rolled back with the key, which stays free
                await joined.connection.execute(_RELEASE, names)
            else:
                await _record(joined.connection, **names, response=_stored(response, secrets))
                IDEMPOTENT_WRITES.labels("done").inc()
            await joined.commit()
        return response

    return run


_RELEASE = sa.text("DELETE FROM idempotency_keys WHERE principal = :principal AND key = :key")


async def _run_joined(handler: Handler, request: Request, joined: JoinedTransaction) -> Response:
    """Run the route in the joined transaction; its dependencies (the session) close before
    this returns, that is before the transaction commits (FastAPI would close them after
    sending the response)."""
    scope = request.scope
    outer_stack = scope["fastapi_inner_astack"]
    with _joining(joined), holding(joined.held):
        async with AsyncExitStack() as stack:
            scope["fastapi_inner_astack"] = stack
            try:
                return await handler(request)
            finally:
                scope["fastapi_inner_astack"] = outer_stack


@contextmanager
def _joining(joined: JoinedTransaction) -> Iterator[None]:
    token = joined_transaction.set(joined)
    try:
        yield
    finally:
        joined_transaction.reset(token)


# -- the route class --------------------------------------------------------------------------

_SECRETS_ATTRIBUTE = "__idempotency_secrets__"
_OPTED_OUT_ATTRIBUTE = "__idempotency_opted_out__"
F = TypeVar("F", bound=Callable[..., Any])

IDEMPOTENCY_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Validation error; also `invalid_idempotency_key` and"
        " `idempotency_key_reused` (the Idempotency-Key was used for another request)"
    }
}


def not_idempotent(endpoint: F) -> F:
    """Mark a write endpoint of an :class:`IdempotentRoute` router that takes no key (its
    effects outside the transaction, such as dropping a process's cache, would run before
    the key's transaction commits)."""
    setattr(endpoint, _OPTED_OUT_ATTRIBUTE, True)
    return endpoint


def secret_fields(*names: str) -> Callable[[F], F]:
    """Top-level JSON fields of the request and response that are never stored: left out of
    the fingerprint (a password: an unsalted hash of it could be guessed), and null in the
    recorded response (a generated password is not handed out again by a replay)."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _SECRETS_ATTRIBUTE, frozenset(names))
        return endpoint

    return mark


class IdempotentRoute(APIRoute):
    """Route class of a router whose writes take an ``Idempotency-Key``:
    ``APIRouter(route_class=IdempotentRoute)``."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {method.upper() for method in kwargs.get("methods") or ()}
        self.takes_idempotency_key = bool(methods & WRITE_METHODS) and not getattr(
            endpoint, _OPTED_OUT_ATTRIBUTE, False
        )
        self.idempotency_secrets: frozenset[str] = getattr(
            endpoint, _SECRETS_ATTRIBUTE, frozenset()
        )
        if self.takes_idempotency_key:
            kwargs["dependencies"] = _with_key_header(kwargs.get("dependencies") or ())
            kwargs["responses"] = {**IDEMPOTENCY_RESPONSES, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not self.takes_idempotency_key:
            return handler
        return idempotent_handler(handler, secrets=self.idempotency_secrets)


def _with_key_header(dependencies: Sequence[DependsParam]) -> list[DependsParam]:
    """The route's dependencies and the header's (which documents it in the OpenAPI; the
    wrapper has checked it already), once: a router included in the app builds it again."""
    if any(d.dependency is idempotency_key for d in dependencies):
        return list(dependencies)
    return [*dependencies, Depends(idempotency_key)]


def has_idempotent_routes(routes: Iterable[Any]) -> bool:
    return any(getattr(route, "takes_idempotency_key", False) for route in routes)


# -- retention ---------------------------------------------------------------------------------

SWEEP_INTERVAL_SECONDS = 600.0
SWEEP_BATCH = 5000

_SWEEP = sa.text("""
DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_keys
    WHERE created_at < now() - make_interval(secs => :seconds)
    LIMIT :batch))""")


async def delete_expired_keys(runtime: Runtime) -> int:
    """Delete the keys older than the window, in batches (short transactions); how many.
    Replicas may sweep at once: a row is deleted once, the other skips it."""
    seconds = runtime.settings.idempotency_hours * 3600
    deleted = 0
    while True:
        async with runtime.engine.begin() as connection:
            result = await connection.execute(_SWEEP, {"seconds": seconds, "batch": SWEEP_BATCH})
        deleted += result.rowcount
        if result.rowcount < SWEEP_BATCH:
            return deleted


async def sweep_idempotency_keys(runtime: Runtime) -> None:
    """Background worker: expired keys are deleted every ~10 minutes (a key past the window
    already counts as new; this keeps the table small)."""
    while True:
        # Jittered, so that replicas started together do not sweep in step.
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS * random.uniform(0.5, 1.0))  # noqa: S311
        try:
            deleted = await delete_expired_keys(runtime)
        except Exception as exc:
            log.warning("sweeping idempotency keys failed: %r", exc)
            continue
        if deleted:
            log.info("swept %d expired idempotency keys", deleted)
