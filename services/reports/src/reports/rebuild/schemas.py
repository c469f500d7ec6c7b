"""What the rebuild endpoints answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class RebuildState(BaseModel):
    active_generation: int
    building_generation: int | None
    built_at: datetime | None
    build_started_at: datetime | None
    build_tickets: int
    build_requested_by: str | None
    last_error: str | None
    purging_generation: int | None
