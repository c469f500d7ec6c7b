from __future__ import annotations

from pydantic import BaseModel, Field, StrictBool

from helpdesk_common.timeofday import ClockTime
from notifications.preferences.service import EVENT_KINDS, EmailMode, EventKind


class PreferenceItem(BaseModel):
    event: EventKind
    in_app: StrictBool = Field(description="an in-app notification")
    email: EmailMode = Field(description="instant, daily digest, or off")


class PreferencesOut(BaseModel):
    # Every event type that can reach the user's role, with their choice (or the default).
    items: list[PreferenceItem]
    # When the daily digest goes out, in the office's time zone.
    digest_time: ClockTime
    timezone: str


class PreferencesIn(BaseModel):
    # The event types to change; the others keep their choice.
    items: list[PreferenceItem] = Field(max_length=len(EVENT_KINDS))
