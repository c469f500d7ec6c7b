"""The one runtime container of a service process: what its routes, consumers and workers share.

The app factory (:func:`helpdesk_common.app.create_service_app`) builds a :class:`Runtime`
with the infrastructure (settings, database engine and sessions, the driver pool, the bus)
and hands it to the service's ``build_runtime`` hook, which returns the service's own
subclass with its process-wide objects added (caches, policies, clients)::

    @dataclass(kw_only=True, eq=False)
    class TicketsRuntime(Runtime):
        settings: TicketsSettings
        policy: Policy

    async def build_runtime(base: Runtime) -> TicketsRuntime:
        return base.extend(TicketsRuntime, policy=build_policy(...))

It lives on ``app.state.runtime`` and nowhere else: routes get it with a dependency
(``RuntimeDep = Annotated[TicketsRuntime, Depends(runtime_of(TicketsRuntime))]``),
background workers and the readiness check receive it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import asyncpg
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from helpdesk_common.auth import VerifiedTokens
from helpdesk_common.bus import Bus
from helpdesk_common.settings import ServiceSettings
from helpdesk_common.standing import UserStandings

R = TypeVar("R", bound="Runtime")


@dataclass(kw_only=True, eq=False)
class Runtime:
    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    bus: Bus
    # Plain asyncpg connections for hot paths (settings.db_driver_pool_size > 0).
    driver_pool: asyncpg.Pool | None = None
    # Kept current by the app factory (helpdesk_common.standing): each known user's active
    # flag, role and unit, against which every request's token is checked.
    user_standings: UserStandings = field(default_factory=UserStandings, repr=False)
    # All consumers are consuming (readiness waits for it).
    consumers_started: bool = False
    # Access tokens already verified: a token's signature is checked once, not per request.
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens, repr=False)

    @property
    def producer(self) -> str:
        """The name this service's events carry as their producer."""
        return self.settings.service_name

    def extend(self, cls: type[R], **extra: Any) -> R:
        """This runtime as a service's subclass ``cls``, with ``extra`` fields added."""
        shared = {f.name: getattr(self, f.name) for f in fields(Runtime)}
        return cls(**{**shared, **extra})

    def require_driver_pool(self) -> asyncpg.Pool:
        if self.driver_pool is None:
            raise RuntimeError("the service has no driver pool (db_driver_pool_size is 0)")
        return self.driver_pool


BuildRuntime = Callable[[Runtime], Awaitable[R]]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def runtime_of(cls: type[R]) -> Callable[[Request], Awaitable[R]]:
    """A FastAPI dependency returning the app's runtime as the service's type ``cls``."""

    # async: a plain ``def`` dependency would run in a worker thread on every request.
    async def dependency(request: Request) -> R:
        runtime = request.app.state.runtime
        if not isinstance(runtime, cls):
            raise TypeError(f"the app's runtime is a {type(runtime).__name__}, not {cls.__name__}")
        return runtime

    return dependency
