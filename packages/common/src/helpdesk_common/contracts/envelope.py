"""The envelope every integration event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from helpdesk_common.context import current_correlation_id


def utcnow() -> datetime:
    return datetime.now(UTC)


class EventPayload(BaseModel):
    """Base of every event payload: pure data, changed only additively."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # Set by each subclass: the routing key, a past-tense fact such as ``ticket.resolved``.
    event_type: ClassVar[str] = ""
    event_version: ClassVar[int] = 1


class EventEnvelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    producer: str
    correlation_id: str | None = None
    payload: dict[str, Any]

    @classmethod
    def wrap(cls, payload: EventPayload, *, producer: str) -> EventEnvelope:
        return cls(
            event_type=payload.event_type,
            version=payload.event_version,
            producer=producer,
            correlation_id=current_correlation_id(),
            payload=payload.model_dump(mode="json"),
        )
