"""The triage setting for administrators (gateway: /api/notifications/notifications/triage)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal, require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.directory import KnownUser, users_by_id
from helpdesk_common.idempotency import IdempotentRoute
from notifications.runtime import RuntimeDep
from notifications.triage import service
from notifications.triage.schemas import (
    DutyHours,
    TriageCandidate,
    TriageIn,
    TriageMemberOut,
    TriageOut,
)

router = APIRouter(prefix="/notifications/triage", tags=["triage"], route_class=IdempotentRoute)

AdminUser = Depends(require_roles("admin"))


async def _out(session: AsyncSession, triage: service.Triage, *, timezone: str) -> TriageOut:
    zone = service.office_zone(timezone)
    now = datetime.now(UTC)
    directory = await users_by_id(session, user_ids=triage.member_ids)
    known = {
        user.id: KnownUser(
            user.id, user.full_name, user.email, user.role, user.is_active, user.language
        )
        for user in directory.values()
    }
    alerted = service.new_ticket_staff(triage, known, moment=now, zone=zone)
    members = [
        TriageMemberOut(
            user_id=m.user_id,
            full_name=directory[m.user_id].full_name if m.user_id in directory else None,
            role=directory[m.user_id].role if m.user_id in directory else None,
            is_active=m.user_id in directory and directory[m.user_id].is_active,
            duty=None
            if m.duty is None
            else DutyHours(weekdays=sorted(m.duty.weekdays), from_=m.duty.start, to=m.duty.end),
            on_duty_now=m.on_duty(now, zone),
        )
        for m in triage.members
    ]
    return TriageOut(
        mode=triage.mode,
        members=members,
        alerted_now=[u.user_id for u in alerted] if triage.mode == "triage_group" else [],
        timezone=timezone,
        revision=triage.revision,
        updated_at=triage.updated_at,
        updated_by=triage.updated_by,
        candidates=[
            TriageCandidate(user_id=user_id, full_name=name, role=role)
            for user_id, name, role in await service.triage_candidates(session)
        ],
    )


@router.get("")
async def read_triage(
    runtime: RuntimeDep, session: SessionDep, _: Principal = AdminUser
) -> TriageOut:
    async with session.begin():
        triage = await service.load_triage(session)
        return await _out(session, triage, timezone=runtime.settings.timezone)


@router.put("")
async def save_triage(
    body: TriageIn, runtime: RuntimeDep, session: SessionDep, admin: Principal = AdminUser
) -> TriageOut:
    async with session.begin():
        triage = await service.save_triage(
            session,
            mode=body.mode,
            members=[
                service.MemberInput(
                    user_id=m.user_id,
                    weekdays=m.duty.weekdays if m.duty else None,
                    duty_from=m.duty.from_ if m.duty else None,
                    duty_to=m.duty.to if m.duty else None,
                )
                for m in body.members
            ],
            actor_id=admin.user_id,
        )
        return await _out(session, triage, timezone=runtime.settings.timezone)
