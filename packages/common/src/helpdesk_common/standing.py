"""Users' current standing (active, role, unit) in every service, for refusing outdated tokens.

An access token states its user's role and unit as they were when it was signed, and lives
for 15 minutes; an administrator's change (an agent made leader, a requester moved to
another unit, an account disabled) must take effect everywhere within seconds. So every
service keeps, per process, each known user's current :class:`Standing` (identity from its
own ``users`` table, the others from their directory replica), and
:func:`helpdesk_common.auth.get_principal` compares the token with it: one dict lookup per
request.

Keeping it current costs next to nothing while nothing changes:

- whoever writes a user's standing (identity's user changes, a directory replica's upsert)
  sends, in the same transaction, ``NOTIFY "user_standing.<schema>", '<user id>'``
  (:func:`announce`); every process LISTENs (:func:`standing_worker`) and re-reads just those
  users when the change commits: milliseconds after identity's commit plus the event's trip;
- every ``user_standing_check_seconds`` (5) a process compares a fingerprint of the table
  (its row count and the sum of the revisions, which only grow: one aggregate in
  PostgreSQL, ~1 ms per 10,000 users, no rows sent) with what it holds, and re-reads
  everything only when they differ: the bound should a notification be lost unnoticed
  (or LISTEN be unavailable, behind a transaction-pooling proxy);
- everything is read at start and after the LISTEN connection was (re)established.

Re-reading the whole table every few seconds instead was measured at 5 ms per 1,000 users
and 125 ms per 10,000 (SQLAlchemy rows; ~75 ms on the driver's own connection, which is what
a full read uses here) of the event loop's time per process: for nothing, almost always.

A token older than the user's last change is refused (401 ``token_outdated``) when its role
or unit differs from the current ones; the web client then refreshes it and identity signs
a new one from its current data. A token *newer* than this process's copy (identity's
revision, the ``rev`` claim, is ahead: the change has not reached this replica yet) is
believed, so a freshly refreshed token is not refused by a replica a moment behind. A
disabled user is refused (401 ``account_disabled``) whatever the token says; a user this
process does not know yet is accepted as the token says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common import pgnotify
from helpdesk_common.errors import ApiError

if TYPE_CHECKING:
    from helpdesk_common.auth import Principal
    from helpdesk_common.runtime import Runtime

log = logging.getLogger("helpdesk.standing")

CHANNEL_PREFIX = "user_standing."


class Standing(NamedTuple):
    """A user's current standing, as this service's own tables say."""

    role: str
    unit_id: uuid.UUID | None
    is_active: bool
    # Identity's revision of the user: a token signed after it may run ahead of this copy.
    revision: int


# Told which users' standing changed (None: anyone's may have).
StandingListener = Callable[[set[uuid.UUID] | None], None]


class UserStandings:
    """Each known user's standing, with the fingerprint of what is held (count, sum of
    revisions) kept up to date as users are replaced. Listeners (``on_change``) hear of
    each change, e.g. open streams that must end once their token no longer counts."""

    def __init__(self, items: dict[uuid.UUID, Standing] | None = None) -> None:
        self._items: dict[uuid.UUID, Standing] = {}
        self._revisions = 0
        self._listeners: list[StandingListener] = []
        self.replace(items or {})

    def on_change(self, listener: StandingListener) -> None:
        self._listeners.append(listener)

    def _tell(self, user_ids: set[uuid.UUID] | None) -> None:
        for listener in self._listeners:
            try:
                listener(user_ids)
            except Exception as exc:  # a listener's fault must not stop the updates
                log.warning("a standing listener failed: %r", exc)

    def get(self, user_id: uuid.UUID) -> Standing | None:
        return self._items.get(user_id)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def fingerprint(self) -> tuple[int, int]:
        return len(self._items), self._revisions

    def replace(self, items: dict[uuid.UUID, Standing]) -> None:
        self._items = items
        self._revisions = sum(standing.revision for standing in items.values())
        self._tell(None)

    def update(self, user_ids: Iterable[uuid.UUID], found: dict[uuid.UUID, Standing]) -> None:
        """The re-read users: ``found`` has those that exist."""
        wanted = set(user_ids)
        for user_id in wanted:
            old = self._items.pop(user_id, None)
            if old is not None:
                self._revisions -= old.revision
            new = found.get(user_id)
            if new is not None:
                self._items[user_id] = new
                self._revisions += new.revision
        self._tell(wanted)


async def _driver(session: AsyncSession) -> asyncpg.Connection:
    # Imported here: helpdesk_common.db depends (through idempotency) on auth, which checks
    # tokens with this module.
    from helpdesk_common.db import driver_connection

    return await driver_connection(session)


@dataclass(frozen=True)
class StandingSource:
    """Where a service reads its users' standing: a table (in its own schema) with the
    columns ``id``, ``role``, ``unit_id``, ``is_active`` and ``revision`` (identity's
    ``users``, a directory replica's ``users``)."""

    table: str

    async def load(
        self, session: AsyncSession, user_ids: set[uuid.UUID] | None = None
    ) -> dict[uuid.UUID, Standing]:
        """The standing of ``user_ids`` (everyone when None)."""
        # The driver's own SQL: a full read is ~40 % cheaper than through SQLAlchemy's rows.
        connection = await _driver(session)
        query = f"SELECT id, role, unit_id, is_active, revision FROM {self.table}"
        if user_ids is None:
            rows = await connection.fetch(query)
        else:
            rows = await connection.fetch(f"{query} WHERE id = ANY($1::uuid[])", list(user_ids))
        return {row[0]: Standing(row[1], row[2], row[3], row[4]) for row in rows}

    async def fingerprint(self, session: AsyncSession) -> tuple[int, int]:
        """(rows, sum of revisions): differs from what a process holds once anything it
        holds changed (revisions only grow, users are never deleted)."""
        connection = await _driver(session)
        row = await connection.fetchrow(
            f"SELECT count(*), coalesce(sum(revision), 0) FROM {self.table}"
        )
        assert row is not None
        return int(row[0]), int(row[1])


def channel(schema: str) -> str:
    """The NOTIFY channel of a schema's users: services side by side in one database (tests,
    the local runner) keep apart."""
    return f"{CHANNEL_PREFIX}{schema}"


async def announce(session: AsyncSession, user_id: uuid.UUID) -> None:
    """In the transaction that changes the user's standing: every process of this schema
    re-reads the user when it commits (nothing if it rolls back)."""
    name = sa.func.concat(CHANNEL_PREFIX, sa.func.current_schema())
    await session.execute(sa.select(sa.func.pg_notify(name, str(user_id))))


def standing_error(standings: UserStandings, principal: Principal) -> ApiError | None:
    """Why the token of ``principal`` no longer counts, or None if it does."""
    standing = standings.get(principal.user_id)
    if standing is None:
        return None  # not known here yet: the token's word
    if not standing.is_active:
        # A signed token outlives its user's deactivation by up to its lifetime; the
        # service's own copy of the user says it no longer counts.
        return ApiError(401, "account_disabled", "This account has been disabled")
    if standing.role == principal.role and standing.unit_id == principal.unit_id:
        return None
    if principal.revision is not None and principal.revision > standing.revision:
        return None  # signed after a change this copy has not received yet
    return ApiError(
        401,
        "token_outdated",
        "This account's role or unit has changed since the token was issued: refresh the"
        " token or sign in again",
    )


async def load_all(runtime: Runtime, source: StandingSource) -> None:
    """Every user's standing, replacing what the process held."""
    async with runtime.sessionmaker() as session:
        found = await source.load(session)
    runtime.user_standings.replace(found)


async def _load_some(runtime: Runtime, source: StandingSource, user_ids: set[uuid.UUID]) -> None:
    async with runtime.sessionmaker() as session:
        found = await source.load(session, user_ids)
    runtime.user_standings.update(user_ids, found)


async def _check(runtime: Runtime, source: StandingSource) -> bool:
    """Whether the table differs from what the process holds."""
    async with runtime.sessionmaker() as session:
        fingerprint = await source.fingerprint(session)
    return fingerprint != runtime.user_standings.fingerprint


def standing_worker(source: StandingSource) -> Callable[[Runtime], Awaitable[None]]:
    """The background worker keeping ``runtime.user_standings`` current (module docstring)."""

    async def follow_standings(runtime: Runtime) -> None:
        settings = runtime.settings
        changed: set[uuid.UUID] = set()
        full = asyncio.Event()  # everything to read again
        wake = asyncio.Event()

        def on_notify(payload: str) -> None:
            try:
                changed.add(uuid.UUID(payload))
            except ValueError:
                full.set()  # not a user id: read everything
            wake.set()

        def on_connected() -> None:
            full.set()  # changes while nobody listened went unheard
            wake.set()

        listener = asyncio.create_task(
            pgnotify.listen(
                settings,
                channel(settings.schema_name),
                on_notify=on_notify,
                on_connected=on_connected,
            )
        )
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(settings.user_standing_check_seconds):
                        await wake.wait()
                timed_out = not wake.is_set()
                wake.clear()
                try:
                    if timed_out and await _check(runtime, source):
                        log.info("users' standing changed without a notification: re-reading")
                        full.set()
                    if full.is_set():
                        full.clear()
                        changed.clear()
                        await load_all(runtime, source)
                    elif changed:
                        wanted = set(changed)
                        changed.clear()
                        await _load_some(runtime, source, wanted)
                except Exception as exc:
                    # What the process holds stays in force; tokens still expire on their
                    # own. Everything is read again once the database answers.
                    log.warning("reading the users' standing failed: %r", exc)
                    full.set()
                    wake.set()
                    await asyncio.sleep(1)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    return follow_standings
