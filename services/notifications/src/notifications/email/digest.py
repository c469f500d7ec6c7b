"""The daily digest: notifications a user chose to get by mail once a day.

The event handlers put a digest item (the rendered subject and summary, the link) where an
instant mail would have gone. Every ``digest_poll_interval`` each replica's worker looks for
users with items from before the latest digest time (``digest_time`` in the office's time
zone) and, per user, in one transaction: takes the unique key of (user, day) in
``digest_runs``, locks the waiting items, queues one mail in the e-mail outbox
(``email_deliveries``, delivered by the usual sender) and marks the items with the run. A
second replica trying the same user waits on the key, then finds it taken and moves on; a
failure rolls everything back and the next round tries again. So each digest goes out once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_common.db import driver_connection
from helpdesk_common.directory import users_by_id
from notifications import arrays
from notifications.email.models import DigestItem, DigestRun
from notifications.email.rendering import Renderer
from notifications.email.service import enqueue_deliveries
from notifications.settings import NotificationsSettings

log = logging.getLogger("notifications.digest")

DIGEST_EVENT_TYPE = "notification.digest"
TEMPLATE = "digest"

DIGESTS_QUEUED = Counter("notifications_digests_queued_total", "Daily digest mails queued")

_ITEM_COLUMNS = (
    ("user_id", "uuid"),
    ("event_id", "uuid"),
    ("event_type", "text"),
    ("ticket_id", "uuid"),
    ("ticket_number", "text"),
    ("title", "text"),
    ("summary", "text"),
    ("link", "text"),
)
_NAMES = arrays.names(_ITEM_COLUMNS)
# One statement for all rows; a redelivered event adds nothing.
_ADD_ITEMS = f"""
INSERT INTO digest_items (id, {_NAMES})
SELECT id, {_NAMES}
  FROM {arrays.unnest(_ITEM_COLUMNS, first=2)} AS r (id, {_NAMES})
ON CONFLICT ON CONSTRAINT uq_digest_items_event_user DO NOTHING
"""


async def add_digest_items(session: AsyncSession, *, rows: Sequence[dict[str, Any]]) -> None:
    """Put notifications in their users' next digest (in the event's transaction)."""
    if not rows:
        return
    connection = await driver_connection(session)
    await connection.execute(
        _ADD_ITEMS,
        [uuid.uuid4() for _ in rows],
        *arrays.arrays(rows, _ITEM_COLUMNS),
    )


def latest_cutoff(now: datetime, *, zone: ZoneInfo, at: time) -> tuple[date, datetime]:
    """The most recent digest time at or before ``now``: its office date and the moment.
    A day's digest takes the items that came before it."""
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), at, tzinfo=zone)
    if local >= today:
        return local.date(), today
    yesterday = local.date() - timedelta(days=1)
    return yesterday, datetime.combine(yesterday, at, tzinfo=zone)


async def users_due(
    session: AsyncSession, *, day: date, cutoff: datetime, limit: int
) -> list[uuid.UUID]:
    """Users with items from before ``cutoff`` whose digest of ``day`` has not gone out."""
    done = sa.exists().where(DigestRun.user_id == DigestItem.user_id, DigestRun.day == day)
    rows = await session.scalars(
        sa.select(DigestItem.user_id)
        .where(DigestItem.digest_run_id.is_(None), DigestItem.created_at < cutoff, ~done)
        .group_by(DigestItem.user_id)
        .order_by(DigestItem.user_id)
        .limit(limit)
    )
    return list(rows)


@dataclass(frozen=True)
class DigestLine:
    """What the templates list of an item."""

    title: str
    summary: str
    link: str | None
    ticket_number: str | None
    created_at: datetime


async def queue_digest(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    day: date,
    cutoff: datetime,
    settings: NotificationsSettings,
    renderer: Renderer,
) -> bool:
    """Queue ``user_id``'s digest of ``day`` and mark its items, in the caller's transaction.
    False when another worker has it (or nothing is left to send)."""
    run_id = uuid.uuid4()
    # Waits while another transaction holds the same (user, day), then does nothing.
    taken = await session.scalar(
        pg_insert(DigestRun)
        .values(id=run_id, user_id=user_id, day=day)
        .on_conflict_do_nothing(constraint="uq_digest_runs_user_day")
        .returning(DigestRun.id)
    )
    if taken is None:
        return False
    items = list(
        await session.scalars(
            sa.select(DigestItem)
            .where(
                DigestItem.user_id == user_id,
                DigestItem.digest_run_id.is_(None),
                DigestItem.created_at < cutoff,
            )
            .order_by(DigestItem.created_at, DigestItem.id)
            .with_for_update()
        )
    )
    if not items:
        await session.execute(sa.delete(DigestRun).where(DigestRun.id == run_id))
        return False
    user = (await users_by_id(session, user_ids=[user_id])).get(user_id)
    recipient = (user.email or "").strip().lower() if user is not None and user.is_active else ""
    if user is not None and recipient:
        rendered = renderer.render(
            TEMPLATE,
            language=user.language,
            context={
                "brand": settings.brand_name,
                "recipient": {"name": user.full_name},
                "ticket": None,
                "link": None,
                "items": [
                    DigestLine(i.title, i.summary, i.link, i.ticket_number, i.created_at)
                    for i in items
                ],
                "digest_day": day,
                "preferences_link": f"{settings.web_base_url.rstrip('/')}/#/account/notifications",
            },
        )
        await enqueue_deliveries(
            session,
            rows=[
                {
                    "event_id": run_id,
                    "event_type": DIGEST_EVENT_TYPE,
                    "recipient": recipient,
                    "recipient_name": user.full_name or None,
                    "user_id": user_id,
                    "language": rendered.language,
                    "subject": rendered.subject,
                    "body_text": rendered.text,
                    "body_html": rendered.html,
                }
            ],
        )
        DIGESTS_QUEUED.inc()
    else:
        log.info("user %s has no address or is disabled: %d items dropped", user_id, len(items))
    await session.execute(
        sa.update(DigestRun)
        .where(DigestRun.id == run_id)
        .values(item_count=len(items), recipient=recipient or None)
    )
    await session.execute(
        sa.update(DigestItem)
        .where(DigestItem.id.in_([i.id for i in items]))
        .values(digest_run_id=run_id)
    )
    return True


async def send_due_digests(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    settings: NotificationsSettings,
    renderer: Renderer,
    now: datetime | None = None,
) -> int:
    """Queue every digest that is due at ``now`` (default: now), one user per transaction;
    returns how many this worker queued."""
    day, cutoff = latest_cutoff(
        now or datetime.now(UTC), zone=ZoneInfo(settings.timezone), at=settings.digest_time
    )
    queued = 0
    while True:
        async with sessionmaker() as session, session.begin():
            users = await users_due(
                session, day=day, cutoff=cutoff, limit=settings.digest_batch_size
            )
        if not users:
            return queued
        progress = 0
        for user_id in users:
            async with sessionmaker() as session, session.begin():
                if await queue_digest(
                    session,
                    user_id=user_id,
                    day=day,
                    cutoff=cutoff,
                    settings=settings,
                    renderer=renderer,
                ):
                    progress += 1
        queued += progress
        if len(users) < settings.digest_batch_size:
            return queued


async def purge_digests(session: AsyncSession, *, older_than: timedelta) -> None:
    """Digested items and their runs past the mails' retention (they hold personal data)."""
    old_runs = sa.select(DigestRun.id).where(DigestRun.created_at < sa.func.now() - older_than)
    await session.execute(sa.delete(DigestItem).where(DigestItem.digest_run_id.in_(old_runs)))
    await session.execute(sa.delete(DigestRun).where(DigestRun.id.in_(old_runs)))


async def run_digest_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    settings: NotificationsSettings,
    renderer: Renderer,
) -> None:
    """The supervised worker: queue due digests, purge old ones, sleep, again."""
    while True:
        await send_due_digests(sessionmaker, settings=settings, renderer=renderer)
        async with sessionmaker() as session, session.begin():
            await purge_digests(session, older_than=timedelta(days=settings.email_retention_days))
        await asyncio.sleep(settings.digest_poll_interval)
