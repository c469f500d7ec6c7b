"""The triage setting: load it (per batch of events: a change is effective at once, on every
replica, with no cache to invalidate), save it (validated against the directory replica),
and pick who hears of a new ticket."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts.identity import IT_STAFF_ROLES
from helpdesk_common.db import driver_connection
from helpdesk_common.directory import KnownUser, active_users, users_by_id
from helpdesk_common.errors import InvalidInput
from notifications.triage.models import TriageMember, TriageSettingsRow

TriageMode = Literal["all_agents", "triage_group"]


@dataclass(frozen=True)
class Duty:
    """On duty on ``weekdays`` (ISO: 1 = Monday) from ``start`` until before ``end``, in the
    office's time zone."""

    weekdays: frozenset[int]
    start: time
    end: time

    def covers(self, moment: datetime, zone: ZoneInfo) -> bool:
        local = moment.astimezone(zone)
        return local.isoweekday() in self.weekdays and self.start <= local.time() < self.end


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    duty: Duty | None  # None: always on duty

    def on_duty(self, moment: datetime, zone: ZoneInfo) -> bool:
        return self.duty is None or self.duty.covers(moment, zone)


@dataclass(frozen=True)
class Triage:
    mode: TriageMode = "all_agents"
    members: tuple[Member, ...] = ()
    revision: int = 0
    updated_at: datetime | None = None
    updated_by: uuid.UUID | None = None

    @property
    def member_ids(self) -> list[uuid.UUID]:
        return [m.user_id for m in self.members]


@functools.lru_cache(maxsize=8)
def office_zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# The setting and its members in one round trip (no row: never set, every agent hears).
# Read on the consumer's hot path (once per batch of events), so plain SQL on the driver.
_LOAD = """
SELECT s.mode, s.revision, s.updated_at, s.updated_by,
       m.user_id, m.weekdays, m.duty_from, m.duty_to
  FROM triage_settings AS s
  LEFT JOIN triage_members AS m ON true
 WHERE s.id = 1
 ORDER BY m.position
"""


async def load_triage(session: AsyncSession) -> Triage:
    connection = await driver_connection(session)
    rows = await connection.fetch(_LOAD)
    if not rows:
        return Triage()
    mode, revision, updated_at, updated_by = rows[0][:4]
    return Triage(
        mode="triage_group" if mode == "triage_group" else "all_agents",
        members=tuple(
            _member(user_id, weekdays, duty_from, duty_to)
            for *_, user_id, weekdays, duty_from, duty_to in rows
            if user_id is not None
        ),
        revision=revision,
        updated_at=updated_at,
        updated_by=updated_by,
    )


def _member(
    user_id: uuid.UUID, weekdays: list[int] | None, duty_from: time | None, duty_to: time | None
) -> Member:
    if weekdays is None or duty_from is None or duty_to is None:
        return Member(user_id, None)
    return Member(user_id, Duty(frozenset(weekdays), duty_from, duty_to))


def new_ticket_staff(
    triage: Triage, users: Mapping[uuid.UUID, KnownUser], *, moment: datetime, zone: ZoneInfo
) -> list[KnownUser]:
    """The triage group's members who should hear of a ticket created at ``moment``: those
    on duty, or every member when none is (a request is never unheard). Members no longer
    active IT staff are passed over; an empty list means nobody is left (the caller falls
    back to every agent)."""
    usable = [
        (member, users[member.user_id])
        for member in triage.members
        if member.user_id in users
        and users[member.user_id].is_active
        and users[member.user_id].role in IT_STAFF_ROLES
    ]
    on_duty = [user for member, user in usable if member.on_duty(moment, zone)]
    return on_duty or [user for _, user in usable]


@dataclass(frozen=True)
class MemberInput:
    user_id: uuid.UUID
    weekdays: Sequence[int] | None = None
    duty_from: time | None = None
    duty_to: time | None = None


async def save_triage(
    session: AsyncSession,
    *,
    mode: TriageMode,
    members: Sequence[MemberInput],
    actor_id: uuid.UUID,
) -> Triage:
    """Replace the triage setting. Members must be active agents or administrators of the
    directory, each listed once, with complete duty hours (from before to) or none."""
    await _check_members(session, mode=mode, members=members)
    row = await session.get(TriageSettingsRow, 1, with_for_update=True)
    if row is None:
        row = TriageSettingsRow(id=1, revision=0)
        session.add(row)
    row.mode = mode
    row.revision = (row.revision or 0) + 1
    row.updated_by = actor_id
    row.updated_at = sa.func.now()
    await session.execute(sa.delete(TriageMember))
    session.add_all(
        TriageMember(
            user_id=m.user_id,
            position=position,
            weekdays=sorted(set(m.weekdays)) if m.weekdays is not None else None,
            duty_from=m.duty_from if m.weekdays is not None else None,
            duty_to=m.duty_to if m.weekdays is not None else None,
        )
        for position, m in enumerate(members)
    )
    await session.flush()
    await session.refresh(row)  # updated_at is the database's now()
    return await load_triage(session)


async def _check_members(
    session: AsyncSession, *, mode: TriageMode, members: Sequence[MemberInput]
) -> None:
    if mode == "triage_group" and not members:
        raise InvalidInput(
            "empty_triage_group", "A triage group needs at least one member", field="members"
        )
    known = await users_by_id(session, user_ids=[m.user_id for m in members])
    seen: set[uuid.UUID] = set()
    for index, member in enumerate(members):
        where = f"members.{index}"
        user = known.get(member.user_id)
        if user is None:
            raise InvalidInput("unknown_user", "No such user", field=f"{where}.user_id")
        if not user.is_active or user.role not in IT_STAFF_ROLES:
            raise InvalidInput(
                "not_an_agent",
                f"{user.full_name} is not an active agent or administrator",
                field=f"{where}.user_id",
            )
        if member.user_id in seen:
            raise InvalidInput(
                "duplicate_member", f"{user.full_name} is listed twice", field=f"{where}.user_id"
            )
        seen.add(member.user_id)
        _check_duty(member, where=f"{where}.duty")


def _check_duty(member: MemberInput, *, where: str) -> None:
    if member.weekdays is None:
        return
    if not member.weekdays:
        raise InvalidInput("no_weekdays", "Choose at least one weekday", field=f"{where}.weekdays")
    if member.duty_from is None or member.duty_to is None:
        field = "from" if member.duty_from is None else "to"
        raise InvalidInput("missing_time", "Give both times", field=f"{where}.{field}")
    if member.duty_from >= member.duty_to:
        raise InvalidInput(
            "duty_from_not_before_to",
            "The duty must start before it ends (within one day)",
            field=f"{where}.to",
        )


async def triage_candidates(session: AsyncSession) -> list[tuple[uuid.UUID, str, str]]:
    """Who may be a member: the active agents and administrators (id, name, role)."""
    return [
        (user.id, user.full_name, user.role)
        for user in await active_users(session, roles=list(IT_STAFF_ROLES))
    ]
