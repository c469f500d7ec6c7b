"""Transactional outbox: an event row saved in the business transaction, relayed later.

``add_event`` writes the event into the service's ``outbox`` table inside the caller's
transaction: rolled back with it, committed with it. ``run_relay`` publishes committed rows
to RabbitMQ with publisher confirms and marks them published. Several relays (replicas) may
run at once: each batch is claimed with ``FOR UPDATE SKIP LOCKED``. A crash between publish
and mark publishes the row again; consumers' inbox makes that harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_common.aftercommit import Wakeup
from helpdesk_common.contracts.envelope import EventEnvelope, EventPayload
from helpdesk_common.observability import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_RELAY_ERRORS,
)

log = logging.getLogger("helpdesk.outbox")

messaging_metadata = sa.MetaData()

outbox_table = sa.Table(
    "outbox",
    messaging_metadata,
    sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("position", sa.BigInteger, sa.Identity(), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    sa.Column("published_at", sa.DateTime(timezone=True)),
)

inbox_table = sa.Table(
    "inbox",
    messaging_metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)


sa.Index(
    "ix_outbox_unpublished",
    outbox_table.c.position,
    postgresql_where=outbox_table.c.published_at.is_(None),
)


class _MigrationContext(Protocol):
    """What a migration passes in: alembic's ``op`` module (or an ``Operations`` object)."""

    def get_bind(self) -> Connection: ...


def create_messaging_tables(op: _MigrationContext) -> None:
    """Called from a service's first migration: the outbox and inbox in its schema."""
    messaging_metadata.create_all(op.get_bind())


# -- writing -----------------------------------------------------------------------------

# Set after a commit that wrote events: this process's relays publish at once instead of
# at their next poll.
RELAY_WAKEUP = Wakeup("outbox")


def wake_relays() -> None:
    """Wake this process's relays after events were committed outside a session (a single
    statement run in autocommit mode); inside a session use :func:`events_written`."""
    RELAY_WAKEUP.notify()


def outbox_row(payload: EventPayload, *, producer: str) -> tuple[uuid.UUID, str, str]:
    """``(event_id, event_type, body)`` of a new event, for a statement of the caller's own.

    A hot path that writes its rows in one statement can insert its events in the same
    statement; after the commit it calls :func:`wake_relays` (or, inside a session
    transaction, :func:`events_written` so the commit does it).
    """
    envelope = EventEnvelope.wrap(payload, producer=producer)
    return envelope.event_id, envelope.event_type, envelope.model_dump_json()


def events_written(session: AsyncSession) -> None:
    """The caller wrote outbox rows in ``session``'s transaction: wake the relays on commit."""
    RELAY_WAKEUP.after_commit(session)


async def add_event(
    session: AsyncSession, payload: EventPayload, *, producer: str
) -> EventEnvelope:
    """Save ``payload`` as an event in the caller's transaction; returns its envelope."""
    envelope = EventEnvelope.wrap(payload, producer=producer)
    await session.execute(
        sa.insert(outbox_table).values(
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            body=envelope.model_dump_json(),
        )
    )
    events_written(session)
    return envelope


# -- relaying ----------------------------------------------------------------------------

PublishFn = Callable[[str, str, str], Awaitable[None]]  # (event_id, event_type, body)


async def relay_batch(
    sessionmaker: async_sessionmaker[AsyncSession], publish: PublishFn, *, batch_size: int
) -> int:
    """Publish one batch of committed events; returns how many were published."""
    async with sessionmaker() as session, session.begin():
        rows = (
            await session.execute(
                sa.select(outbox_table.c.event_id, outbox_table.c.event_type, outbox_table.c.body)
                .where(outbox_table.c.published_at.is_(None))
                .order_by(outbox_table.c.position)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return 0
        # Publisher confirms: each await returns once the broker has taken the message.
        await asyncio.gather(*(publish(str(r.event_id), r.event_type, r.body) for r in rows))
        await session.execute(
            sa.update(outbox_table)
            .where(outbox_table.c.event_id.in_([r.event_id for r in rows]))
            .values(published_at=sa.func.now())
        )
    return len(rows)


async def record_backlog(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Set the backlog gauges: unpublished rows, and how long the oldest has waited (what an
    alert watches: a slow relay shows as age before the count looks alarming). Returns the
    count."""
    unpublished = outbox_table.c.published_at.is_(None)
    async with sessionmaker() as session:
        row = (
            await session.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.extract(
                        "epoch", sa.func.now() - sa.func.min(outbox_table.c.created_at)
                    ),
                ).where(unpublished)
            )
        ).one()
    backlog = int(row[0] or 0)
    OUTBOX_BACKLOG.set(backlog)
    OUTBOX_OLDEST_AGE.set(max(0.0, float(row[1] or 0)))
    return backlog


def record_empty_backlog() -> None:
    OUTBOX_BACKLOG.set(0)
    OUTBOX_OLDEST_AGE.set(0)


async def purge_published(
    sessionmaker: async_sessionmaker[AsyncSession], *, older_than: timedelta
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            sa.delete(outbox_table).where(outbox_table.c.published_at < sa.func.now() - older_than)
        )


async def run_relay(
    sessionmaker: async_sessionmaker[AsyncSession],
    publish: PublishFn,
    *,
    batch_size: int = 200,
    poll_interval: float = 0.5,
    gather: float = 0.0,
    retention: timedelta = timedelta(days=7),
    max_backoff: float = 30.0,
    housekeeping_interval: float = 30.0,
) -> None:
    """Relay forever: publish as soon as this process commits, else poll; back off on errors.

    Every ``housekeeping_interval`` seconds (by the clock, not per round: under load rounds
    come every few milliseconds) it also counts the backlog and purges old published rows.
    """
    backoff = poll_interval
    housekeeping_due = time.monotonic()
    with RELAY_WAKEUP.waiter() as wakeup:
        while True:
            try:
                wakeup.clear()
                published = await relay_batch(sessionmaker, publish, batch_size=batch_size)
                backoff = poll_interval
                if time.monotonic() >= housekeeping_due:
                    housekeeping_due = time.monotonic() + housekeeping_interval
                    await record_backlog(sessionmaker)
                    await purge_published(sessionmaker, older_than=retention)
                if published == batch_size:
                    continue  # a full batch: more are probably waiting
                if published == 0:
                    record_empty_backlog()
                # Sleep until a commit in this process wakes us (events arriving meanwhile
                # make the next batch larger) or the poll interval catches other replicas'.
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                woken = False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(poll_interval):
                        woken = await wakeup.wait()
                if woken and gather:
                    await asyncio.sleep(gather)  # let more commits join this round
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                OUTBOX_RELAY_ERRORS.inc()
                log.warning("outbox relay round failed, retrying in %.1fs: %r", backoff, exc)
                # The broker being down is when the backlog matters: keep the gauge true.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await record_backlog(sessionmaker)
                await asyncio.sleep(backoff)
                backoff = min(max_backoff, backoff * 2)
