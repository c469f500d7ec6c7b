"""The signed-in user's notification preferences (gateway: /api/notifications/notifications/
preferences)."""

from __future__ import annotations

from fastapi import APIRouter

from helpdesk_common.auth import CurrentUser
from helpdesk_common.db import SessionDep
from helpdesk_common.idempotency import IdempotentRoute
from notifications.preferences import service
from notifications.preferences.schemas import PreferenceItem, PreferencesIn, PreferencesOut
from notifications.runtime import RuntimeDep

router = APIRouter(
    prefix="/notifications/preferences",
    tags=["notification preferences"],
    route_class=IdempotentRoute,
)


def _out(
    choices: list[tuple[service.EventKind, service.Choice]], runtime: RuntimeDep
) -> PreferencesOut:
    return PreferencesOut(
        items=[
            PreferenceItem(event=kind, in_app=choice.in_app, email=choice.email)
            for kind, choice in choices
        ],
        digest_time=runtime.settings.digest_time,
        timezone=runtime.settings.timezone,
    )


@router.get("")
async def my_preferences(
    principal: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> PreferencesOut:
    async with session.begin():
        choices = await service.preferences_of(
            session, user_id=principal.user_id, role=principal.role
        )
    return _out(choices, runtime)


@router.put("")
async def save_my_preferences(
    body: PreferencesIn, principal: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> PreferencesOut:
    async with session.begin():
        choices = await service.save_preferences(
            session,
            user_id=principal.user_id,
            role=principal.role,
            items=[
                service.ChoiceInput(event=i.event, in_app=i.in_app, email=i.email)
                for i in body.items
            ],
        )
    return _out(choices, runtime)
