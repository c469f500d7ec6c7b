"""Async SQLAlchemy engine and sessions; every service owns one PostgreSQL schema."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol, cast

import asyncpg
import sqlalchemy as sa
import sqlalchemy.exc
from asyncpg.pool import PoolConnectionProxy
from fastapi import Depends, Request
from sqlalchemy import MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, PoolProxiedConnection

from helpdesk_common.errors import database_unavailable
from helpdesk_common.idempotency import joined_connections, joined_session_options
from helpdesk_common.settings import ServiceSettings

if TYPE_CHECKING:
    from helpdesk_common.runtime import Runtime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata() -> MetaData:
    """Metadata for a service's tables.

    Tables are declared without a schema: every connection of a service sets
    ``search_path`` to the service's own schema, so a service cannot see another's tables
    by accident and the same code runs under any schema name (tests use throw-away ones).
    """
    return MetaData(naming_convention=NAMING_CONVENTION)


# Python annotations -> column types, for every service's models.
TYPE_ANNOTATION_MAP: dict[Any, Any] = {
    datetime: sa.DateTime(timezone=True),
    dict[str, Any]: JSONB,
}


class ServiceBase(DeclarativeBase):
    """The declarative base of every service, declared once here.

    A service writes ``class Base(ServiceBase): __abstract__ = True`` in its ``db.py``
    and its models derive from that: each such subclass gets a metadata and registry of its
    own (a service's migrations see its own tables only, and two services may both have a
    ``users`` table in one test process), with the naming convention of
    :func:`service_metadata` and timezone-aware timestamps and JSONB for ``dict`` columns.
    """

    __abstract__ = True
    type_annotation_map = TYPE_ANNOTATION_MAP

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if ServiceBase in cls.__bases__:
            cls.metadata = service_metadata()
            cls.registry = registry(metadata=cls.metadata, type_annotation_map=TYPE_ANNOTATION_MAP)
        super().__init_subclass__(**kwargs)


def create_engine(settings: ServiceSettings, *, pooled: bool = True) -> AsyncEngine:
    """The service's engine; ``pooled=False`` opens a connection per use instead.

    An unpooled engine is for rare out-of-band work (reloading a cache, say) that requests
    wait for while they hold a pooled connection: if that work waited for the pool in turn,
    a busy service would deadlock once every pooled connection is held that way.
    """
    pool_args: dict[str, Any] = (
        {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_pre_ping": settings.db_pool_pre_ping,
            "pool_recycle": settings.db_pool_recycle_seconds,
        }
        if pooled
        else {"poolclass": NullPool}
    )
    engine = create_async_engine(
        settings.database_url,
        **pool_args,
        # A failed statement's exception text would carry its parameters (a new user's
        # password hash, a token's digest) into the logs.
        hide_parameters=True,
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "server_settings": {
                "application_name": settings.service_name,
                "search_path": f'"{settings.schema_name}", public',
            },
        },
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(
    dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    """Replace a pooled connection the server has closed before a request gets it.

    A PostgreSQL restart (or ``pg_terminate_backend``) closes every connection; the driver
    notices as soon as the socket closes, so this check costs no round trip (unlike
    ``pool_pre_ping``). Without it the first request on each dead pooled connection failed.
    Raising DisconnectionError makes the pool open a fresh connection in its place."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise sqlalchemy.exc.DisconnectionError("the pooled connection was closed by the server")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_DRIVER_CONNECTION = "helpdesk_common.driver_connection"


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under ``session``'s transaction, for a hot path's own SQL.

    Through SQLAlchemy a statement costs 0.1-0.4 ms of CPU around the database's own work
    (the construct, its cache key, parameter and result processing, ORM objects). A hot path
    may run its few statements as SQL on this connection instead: they run in the session's
    transaction (committed or rolled back with it) and the service's schema (the
    connection's ``search_path``); asyncpg prepares each text once per connection.

    The lookup through SQLAlchemy costs about 0.08 ms, so it is kept for the rest of the
    transaction: a batch consumer runs several statements per batch. The next transaction of
    the session looks it up again (the pool may give another connection).
    """
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_DRIVER_CONNECTION)
    # Held with the transaction object itself (not its id): a later one is never taken for it.
    if cached is not None and transaction is not None and cached[0] is transaction:
        kept: asyncpg.Connection = cached[1]
        if not kept.is_closed():
            return kept
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    # SQLAlchemy types the driver's connection as Any (one attribute for every dialect); with
    # the asyncpg dialect the engines here use, it is asyncpg's. None only once it is closed.
    driver = cast(asyncpg.Connection | None, raw.driver_connection)
    if driver is None:
        # The server closed it (a restart): the error handlers answer 503, as for any other.
        raise asyncpg.exceptions.ConnectionDoesNotExistError(
            "the session's database connection is closed"
        )
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN with the first statement; make it do so,
        # so that the caller's statements cannot run outside the transaction.
        await connection.execute(sa.text("SELECT 1"))
        if not driver.is_in_transaction():
            raise RuntimeError("the session has no open database transaction")
    session.info[_DRIVER_CONNECTION] = (session.sync_session.get_transaction(), driver)
    return driver


async def create_driver_pool(settings: ServiceSettings) -> asyncpg.Pool:
    """A plain asyncpg pool (``settings.db_driver_pool_size`` connections) for hot paths.

    Taking a connection from SQLAlchemy's pool, beginning and committing through the
    session costs several times the CPU of a short statement itself. A hot path can take
    a connection from this pool instead and run its SQL there (in ``connection.transaction()``
    or, for one statement, in autocommit). Same database, schema (``search_path``) and
    application name as the engine. Connections go back without asyncpg's reset query (a
    round trip per use): code using this pool must not change session state (SET, LISTEN,
    session-level advisory locks); an open transaction is still rolled back.
    """
    return await asyncpg.create_pool(
        settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1),
        min_size=1,
        max_size=settings.db_driver_pool_size,
        timeout=settings.db_connect_timeout_seconds,
        server_settings={
            "application_name": settings.service_name,
            "search_path": f'"{settings.schema_name}", public',
        },
        reset=_keep_session_state,
    )


class _OutageWithoutTraceback(logging.Filter):
    """asyncpg's pool logs a traceback every time it fails to reopen its minimum of
    connections, every second or so while the database is down: keep the line (with the
    error), drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and database_unavailable(error):
            record.msg = f"{record.getMessage()}: {error!r}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("asyncpg.pool").addFilter(_OutageWithoutTraceback())


async def _keep_session_state(connection: asyncpg.Connection) -> None:
    return None


class DriverConnections(Protocol):
    """Where a route takes its driver connection: the pool, or, inside an idempotent write
    (helpdesk_common.idempotency), that write's transaction."""

    def acquire(self) -> AbstractAsyncContextManager[asyncpg.Connection | PoolConnectionProxy]: ...


async def get_driver_pool(request: Request) -> DriverConnections:
    joined = joined_connections()
    if joined is not None:
        return joined
    runtime: Runtime = request.app.state.runtime
    return runtime.require_driver_pool()


DriverPool = Annotated[DriverConnections, Depends(get_driver_pool)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the route opens one unit of work with ``session.begin()``
    (inside an idempotent write, a savepoint of that write's transaction)."""
    runtime: Runtime = request.app.state.runtime
    session = runtime.sessionmaker(**joined_session_options())
    try:
        yield session
    finally:
        await close_quietly(session)


async def close_quietly(session: AsyncSession) -> None:
    """Close ``session``; a connection the database lost meanwhile is no error here.

    Closing rolls back what is still open, and it runs once the response may already be on
    its way: if the database went away, there is nothing left to roll back (the server
    dropped the transaction with the connection), and raising would only turn an answered
    request into a traceback. The pool discards the dead connection."""
    try:
        await session.close()
    except Exception as exc:
        if not database_unavailable(exc):
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session)]
