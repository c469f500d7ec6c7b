"""Which event types reach which role, each user's channel choices, and reading them in one
query for an event's recipients."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.db import driver_connection
from helpdesk_common.errors import InvalidInput
from notifications.preferences.models import NotificationPreference

EmailMode = Literal["instant", "digest", "off"]
EMAIL_MODES: tuple[EmailMode, ...] = ("instant", "digest", "off")

# The event types a user can choose for, in the order the preferences page lists them; the
# names are the templates' (``templates/<lang>/<event>.*``).
EventKind = Literal[
    "created",
    "assigned",
    "commented",
    "status_changed",
    "resolved",
    "closed",
    "reopened",
    "sla_warning",
    "sla_breached",
    "escalated",
    "attachment_added",
    "webhook_disabled",
]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)

_STAFF_KINDS: tuple[EventKind, ...] = (
    "created",
    "assigned",
    "commented",
    "reopened",
    "sla_warning",
    "sla_breached",
    "escalated",
    "attachment_added",
)
# What can reach each role (routing.recipients): a requester hears of their tickets' progress
# (their receipt of a new ticket always goes out: it carries the number), IT staff of new
# tickets and of the tickets they hold, leaders of breaches and escalations; administrators
# also of an outbound webhook disabled after failing too long (the integrations service).
KINDS_BY_ROLE: dict[str, tuple[EventKind, ...]] = {
    "requester": ("commented", "status_changed", "resolved", "closed"),
    "agent": _STAFF_KINDS,
    "admin": (*_STAFF_KINDS, "webhook_disabled"),
    "leader": ("sla_breached", "escalated"),
}


@dataclass(frozen=True)
class Choice:
    in_app: bool = True
    email: EmailMode = "instant"


DEFAULT_CHOICE = Choice()


def _choice(in_app: bool, email: str) -> Choice:
    # The table's check constraint holds the column to the three modes.
    mode: EmailMode = "digest" if email == "digest" else "off" if email == "off" else "instant"
    return Choice(in_app, mode)


def kinds_for_role(role: str) -> tuple[EventKind, ...]:
    return KINDS_BY_ROLE.get(role, ())


# Every saved choice of some users for some event types (a batch of events asks for all of
# theirs at once): a hot path of the consumer, so plain SQL on the driver's connection.
_CHOICES = """
SELECT user_id, event, in_app, email
  FROM notification_preferences
 WHERE user_id = ANY($1::uuid[]) AND event = ANY($2::text[])
"""


async def choices_of(
    session: AsyncSession, *, user_ids: Iterable[uuid.UUID], events: Iterable[str]
) -> dict[tuple[uuid.UUID, str], Choice]:
    """The saved choices of ``user_ids`` for ``events``, by (user, event); a pair without
    one is absent (it gets :data:`DEFAULT_CHOICE`)."""
    ids = list(set(user_ids))
    kinds = sorted(set(events))
    if not ids or not kinds:
        return {}
    connection = await driver_connection(session)
    rows = await connection.fetch(_CHOICES, ids, kinds)
    return {(user_id, event): _choice(in_app, email) for user_id, event, in_app, email in rows}


async def choices_for(
    session: AsyncSession, *, user_ids: Iterable[uuid.UUID], event: str
) -> dict[uuid.UUID, Choice]:
    """The saved choices of ``user_ids`` for ``event``; users without one are absent (they
    get :data:`DEFAULT_CHOICE`)."""
    choices = await choices_of(session, user_ids=user_ids, events=[event])
    return {user_id: choice for (user_id, _), choice in choices.items()}


async def preferences_of(
    session: AsyncSession, *, user_id: uuid.UUID, role: str
) -> list[tuple[EventKind, Choice]]:
    """Every event type that can reach the role, with the user's choice or the default."""
    rows = await session.execute(
        sa.select(
            NotificationPreference.event,
            NotificationPreference.in_app,
            NotificationPreference.email,
        ).where(NotificationPreference.user_id == user_id)
    )
    saved = {event: _choice(in_app, email) for event, in_app, email in rows}
    return [(kind, saved.get(kind, DEFAULT_CHOICE)) for kind in kinds_for_role(role)]


@dataclass(frozen=True)
class ChoiceInput:
    event: str
    in_app: bool
    email: EmailMode


async def save_preferences(
    session: AsyncSession, *, user_id: uuid.UUID, role: str, items: Sequence[ChoiceInput]
) -> list[tuple[EventKind, Choice]]:
    """Save the choices given (the others stay as they are); an event type that cannot reach
    the user's role is refused, naming the item."""
    allowed = kinds_for_role(role)
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.event not in allowed:
            raise InvalidInput(
                "event_not_for_role",
                f"'{item.event}' notifications never reach a {role}",
                field=f"items.{index}.event",
            )
        if item.event in seen:
            raise InvalidInput(
                "duplicate_event", f"'{item.event}' is listed twice", field=f"items.{index}.event"
            )
        seen.add(item.event)
    if items:
        statement = pg_insert(NotificationPreference).values(
            [
                {"user_id": user_id, "event": i.event, "in_app": i.in_app, "email": i.email}
                for i in items
            ]
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "event"],
                set_={
                    "in_app": statement.excluded.in_app,
                    "email": statement.excluded.email,
                    "updated_at": sa.func.now(),
                },
            )
        )
    return await preferences_of(session, user_id=user_id, role=role)
