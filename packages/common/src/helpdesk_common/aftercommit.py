"""Work that must wait for a transaction's commit: one mechanism for every service.

A hot path commits rows that a background loop in the same process acts on (the outbox
relay publishes events, the mail sender sends deliveries). Instead of each loop polling,
the writer says so in its transaction and the loop is woken right after the commit; a
rollback wakes nobody. Two building blocks:

- :func:`after_commit` runs a callback once ``session``'s transaction commits (and an
  optional one if it rolls back instead);
- :class:`Wakeup` is a named signal that loops wait on: ``wakeup.after_commit(session)`` in
  a transaction, or ``wakeup.notify()`` after a statement that committed by itself.

A request whose work joins an outer transaction (a write with an ``Idempotency-Key``:
:mod:`helpdesk_common.idempotency` records the key and the response in the same transaction)
commits only after the route is done: inside :func:`holding`, a joined session's commit
callbacks and every ``Wakeup.notify`` wait in a :class:`Held` for that transaction's outcome.

Signals are per process, not per app: tests run several apps in one process, and a spurious
wake-up only costs a loop one empty round.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

Callback = Callable[[], None]

# session.info key: callback -> what to run instead on rollback (a dict dedupes callbacks).
_PENDING = "helpdesk_after_commit"
# session.info key of a session that joined an outer transaction: the Held of that one.
HELD_BY = "helpdesk_held_by"


class Held:
    """Callbacks waiting for the outcome of an outer transaction that a request's sessions
    and statements joined: the commit's once it committed, the rollback's otherwise."""

    def __init__(self) -> None:
        self._pending: list[tuple[Callback | None, Callback | None]] = []

    def add(self, on_commit: Callback | None, on_rollback: Callback | None) -> None:
        self._pending.append((on_commit, on_rollback))

    def committed(self) -> None:
        self._run(0)

    def rolled_back(self) -> None:
        self._run(1)

    def _run(self, which: int) -> None:
        pending, self._pending = self._pending, []
        for callbacks in pending:
            callback = callbacks[which]
            if callback is not None:
                callback()


# Set while a request's work runs inside an outer transaction (see :func:`holding`).
_holding: ContextVar[Held | None] = ContextVar("helpdesk_holding", default=None)


@contextlib.contextmanager
def holding(held: Held) -> Iterator[None]:
    """While the block runs (in this task), ``Wakeup.notify`` waits in ``held``: the work it
    announces commits with the outer transaction, later. Leave the block before running
    ``held``'s callbacks."""
    token = _holding.set(held)
    try:
        yield
    finally:
        _holding.reset(token)


def after_commit(
    session: AsyncSession | Session, callback: Callback, *, on_rollback: Callback | None = None
) -> None:
    """Run ``callback`` once the session's current transaction commits (once, however often
    it is registered); ``on_rollback`` instead if it rolls back."""
    pending: dict[Callback, Callback | None] = session.info.setdefault(_PENDING, {})
    pending[callback] = on_rollback


@sa_event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending: dict[Callback, Callback | None] = session.info.pop(_PENDING, {})
    held: Held | None = session.info.get(HELD_BY)
    if held is not None:
        # The session's "commit" released a savepoint of the outer transaction: its
        # callbacks wait for that one's outcome.
        for callback, on_rollback in pending.items():
            held.add(callback, on_rollback)
        return
    for callback in pending:
        callback()


@sa_event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    for on_rollback in session.info.pop(_PENDING, {}).values():
        if on_rollback is not None:
            on_rollback()


class Wakeup:
    """Wakes the loops of this process that wait for one kind of committed work."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        """Wake every waiting loop now (the work is committed already); inside
        :func:`holding`, once the outer transaction has ended (either way: a spurious
        wake-up costs nothing)."""
        held = _holding.get()
        if held is not None:
            held.add(self.notify, self.notify)
            return
        for waiter in self._waiters:
            waiter.set()

    def after_commit(self, session: AsyncSession | Session) -> None:
        """Wake the loops once ``session``'s transaction commits."""
        after_commit(session, self.notify)

    @contextlib.contextmanager
    def waiter(self, event: asyncio.Event | None = None) -> Iterator[asyncio.Event]:
        """An event (``event``, or a new one) that every :meth:`notify` sets while the block
        runs; the waiting loop clears it."""
        event = event or asyncio.Event()
        self._waiters.add(event)
        try:
            yield event
        finally:
            self._waiters.discard(event)

    def __repr__(self) -> str:
        return f"Wakeup({self.name!r})"
