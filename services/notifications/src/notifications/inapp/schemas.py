from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from helpdesk_common.pagination import Page


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_type: str
    ticket_id: uuid.UUID | None
    ticket_number: str | None
    title: str
    body: str
    link: str | None
    # For the user personally (their ticket) rather than a broadcast to a group.
    addressed: bool
    created_at: datetime
    read_at: datetime | None
    is_read: bool


class NotificationPage(Page[NotificationOut]):
    # items, newest first; next_cursor: pass as ``cursor`` for the next (older) page.
    unread_count: int
    # Of those, addressed to the user personally.
    addressed_unread_count: int


class UnreadCount(BaseModel):
    unread_count: int
    addressed_unread_count: int


class ReadAllResult(BaseModel):
    marked_read: int
    unread_count: int
    addressed_unread_count: int
