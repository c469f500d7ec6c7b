"""Dependency outages in tests: a database restart as a service sees it, and the statuses its
clients get meanwhile.

A PostgreSQL restart terminates every connection; ``pg_terminate_backend`` of one service's
connections in one (test) database does the same to that service alone, leaving the shared
server and everyone else's connections alone.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg
import httpx

from helpdesk_testing.env import PG_ADMIN_DSN

Call = Callable[[], Awaitable[httpx.Response]]


async def terminate_backends(database_url: str, application_name: str) -> int:
    """Terminate the connections ``application_name`` holds to ``database_url``'s database
    (what a restart of PostgreSQL does to them); how many there were."""
    database = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        terminated: list[int] = await admin.fetchval(
            """
            SELECT coalesce(array_agg(pid) FILTER (WHERE pg_terminate_backend(pid)), '{}')
            FROM pg_stat_activity
            WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()
            """,
            database,
            application_name,
        )
        # As after a real restart, the backends are gone (their goodbye sent) on return.
        deadline = asyncio.get_running_loop().time() + 5
        while await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", terminated
        ):
            assert asyncio.get_running_loop().time() < deadline, "backends did not go"
            await asyncio.sleep(0.01)
    finally:
        await admin.close()
    return len(terminated)


@dataclass
class Outcomes:
    """The statuses each kind of call got, and the bodies of the unexpected ones."""

    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    terminated: int = 0

    def count(self, label: str, status: int) -> int:
        return self.statuses[(label, status)]

    def assert_no_server_errors(self) -> None:
        """Nothing but the expected statuses and 503 ``database_unavailable`` (with
        Retry-After): no 500, no other error."""
        assert not self.failures, (dict(self.statuses), self.failures[:5])


async def through_restarts(
    calls: dict[str, Call],
    restart: Callable[[], Awaitable[int]],
    *,
    expected: Sequence[int] = (200, 201),
    restarts: int = 5,
    interval: float = 0.15,
    concurrency: int = 4,
) -> Outcomes:
    """Run ``calls`` (by label) round-robin on ``concurrency`` clients while ``restart``
    (e.g. :func:`terminate_backends`) runs ``restarts`` times, ``interval`` seconds apart.
    A 503 ``database_unavailable`` with Retry-After is allowed; anything else not
    ``expected`` is recorded as a failure."""
    outcomes = Outcomes()
    stop = asyncio.Event()
    labels = list(calls)

    async def client(offset: int) -> None:
        turn = offset
        while not stop.is_set():
            label = labels[turn % len(labels)]
            turn += 1
            try:
                response = await calls[label]()
            except Exception as exc:  # an in-process app re-raises what it did not handle
                outcomes.failures.append(f"{label}: raised {type(exc).__name__}: {exc}")
                continue
            outcomes.statuses[(label, response.status_code)] += 1
            allowed = response.status_code in expected or (
                response.status_code == 503 and _is_database_unavailable(response)
            )
            if not allowed:
                outcomes.failures.append(f"{label}: {response.status_code} {response.text[:300]}")

    async def restarter() -> None:
        for _ in range(restarts):
            await asyncio.sleep(interval)
            outcomes.terminated += await restart()
        await asyncio.sleep(interval)
        stop.set()

    await asyncio.gather(restarter(), *(client(i) for i in range(concurrency)))
    return outcomes


def _is_database_unavailable(response: httpx.Response) -> bool:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return False
    return code == "database_unavailable" and bool(response.headers.get("retry-after"))
