"""In-app notifications: create from events, list, count and mark read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.db import driver_connection
from helpdesk_common.errors import NotFound
from helpdesk_common.pagination import after, cursor_int, decode_cursor, encode_cursor, page_of
from notifications import arrays
from notifications.inapp.models import Notification

_NOTIFICATION_COLUMNS = (
    ("user_id", "uuid"),
    ("event_id", "uuid"),
    ("event_type", "text"),
    ("ticket_id", "uuid"),
    ("ticket_number", "text"),
    ("title", "text"),
    ("body", "text"),
    ("link", "text"),
    ("created_at", "timestamptz"),
    ("addressed", "bool"),
)
_NAMES = arrays.names(_NOTIFICATION_COLUMNS)
# One statement for all rows, one array per column (see helpdesk_common.db.driver_connection);
# an event redelivered after a crash adds nothing.
_ADD = f"""
INSERT INTO notifications (id, {_NAMES})
SELECT id, {
    _NAMES.replace("created_at", "coalesce(created_at, now())").replace(
        "addressed", "coalesce(addressed, false)"
    )
}
  FROM {arrays.unnest(_NOTIFICATION_COLUMNS, first=2)} AS r (id, {_NAMES})
ON CONFLICT ON CONSTRAINT uq_notifications_event_user DO NOTHING
"""


async def add_notifications(session: AsyncSession, *, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    connection = await driver_connection(session)
    await connection.execute(
        _ADD,
        [uuid.uuid4() for _ in rows],
        *arrays.arrays(rows, _NOTIFICATION_COLUMNS),
    )


# The name of the listing in its cursors (helpdesk_common.pagination).
LISTING = "notifications"


async def list_notifications(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    unread_only: bool,
    cursor: str | None,
    limit: int,
    addressed_only: bool = False,
) -> tuple[list[Notification], str | None]:
    """A page of the user's notifications, newest first, and the cursor of the next page;
    ``addressed_only``: those for the user personally ("for me")."""
    query = (
        sa.select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.seq.desc())
        .limit(limit + 1)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if addressed_only:
        query = query.where(Notification.addressed)
    if cursor is not None:
        values = decode_cursor(cursor, listing=LISTING, parse=[cursor_int])
        query = query.where(after([Notification.seq.expression], values, descending=True))
    rows = list(await session.scalars(query))
    return page_of(rows, limit=limit, cursor_after=lambda n: encode_cursor(LISTING, n.seq))


async def unread_count(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    total, _ = await unread_counts(session, user_id=user_id)
    return total


async def unread_counts(session: AsyncSession, *, user_id: uuid.UUID) -> tuple[int, int]:
    """The user's unread notifications: (all, those addressed to them), in one scan."""
    row = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(Notification.addressed),
            )
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


async def mark_read(
    session: AsyncSession, *, user_id: uuid.UUID, notification_id: uuid.UUID
) -> Notification:
    notification = await session.get(Notification, notification_id)
    # Someone else's notification answers like a missing one: ids reveal nothing.
    if notification is None or notification.user_id != user_id:
        raise NotFound("not_found", "No such notification")
    if notification.read_at is None:
        notification.read_at = sa.func.now()
        await session.flush()
        await session.refresh(notification)
    return notification


async def mark_all_read(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    result = await session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=sa.func.now())
        .returning(Notification.id)
    )
    return len(result.all())
