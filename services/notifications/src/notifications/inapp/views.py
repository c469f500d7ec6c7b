"""The current user's in-app notifications (gateway: /api/notifications/notifications...)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from helpdesk_common.auth import CurrentUser
from helpdesk_common.db import SessionDep
from helpdesk_common.idempotency import IdempotentRoute
from helpdesk_common.pagination import CursorQuery
from notifications.inapp import service
from notifications.inapp.models import Notification
from notifications.inapp.schemas import (
    NotificationOut,
    NotificationPage,
    ReadAllResult,
    UnreadCount,
)

router = APIRouter(
    prefix="/notifications", tags=["in-app notifications"], route_class=IdempotentRoute
)


def to_out(notification: Notification) -> NotificationOut:
    return NotificationOut.model_validate(notification)


@router.get("")
async def list_my_notifications(
    principal: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorQuery = None,
    unread: Annotated[bool, Query(description="only unread notifications")] = False,
    addressed: Annotated[
        bool, Query(description="only those for the user personally (for me)")
    ] = False,
) -> NotificationPage:
    async with session.begin():
        items, next_cursor = await service.list_notifications(
            session,
            user_id=principal.user_id,
            unread_only=unread,
            addressed_only=addressed,
            cursor=cursor,
            limit=limit,
        )
        count, addressed_count = await service.unread_counts(session, user_id=principal.user_id)
    return NotificationPage(
        items=[to_out(n) for n in items],
        next_cursor=next_cursor,
        unread_count=count,
        addressed_unread_count=addressed_count,
    )


@router.get("/unread-count")
async def my_unread_count(principal: CurrentUser, session: SessionDep) -> UnreadCount:
    async with session.begin():
        count, addressed_count = await service.unread_counts(session, user_id=principal.user_id)
    return UnreadCount(unread_count=count, addressed_unread_count=addressed_count)


@router.post("/read-all")
async def mark_all_my_notifications_read(
    principal: CurrentUser, session: SessionDep
) -> ReadAllResult:
    async with session.begin():
        marked = await service.mark_all_read(session, user_id=principal.user_id)
        # Counted again rather than assumed 0: a notification may have arrived meanwhile.
        count, addressed_count = await service.unread_counts(session, user_id=principal.user_id)
    return ReadAllResult(
        marked_read=marked, unread_count=count, addressed_unread_count=addressed_count
    )


@router.post("/{notification_id}/read")
async def mark_notification_read(
    notification_id: uuid.UUID, principal: CurrentUser, session: SessionDep
) -> NotificationOut:
    async with session.begin():
        notification = await service.mark_read(
            session, user_id=principal.user_id, notification_id=notification_id
        )
    return to_out(notification)
