from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_type: str
    ticket_id: uuid.UUID | None
    ticket_number: str | None
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None
    is_read: bool


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    # Pass as ``cursor`` to get the next (older) page; null on the last page.
    next_cursor: str | None
    unread_count: int


class UnreadCount(BaseModel):
    unread_count: int


class ReadAllResult(BaseModel):
    marked_read: int
    unread_count: int
