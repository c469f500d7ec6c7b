"""Users.

Administrators manage accounts. Agents and leaders may list users (to pick an assignee, to
filter reports) but see no account security state; requesters may not list users.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, status

from helpdesk_common.auth import Principal, require_roles
from helpdesk_common.contracts.identity import Role
from helpdesk_common.db import SessionDep
from helpdesk_common.idempotency import IdempotentRoute, secret_fields
from helpdesk_common.pagination import CursorQuery, Page
from helpdesk_common.responses import errors
from identity.listing import DEFAULT_LIMIT, Limit
from identity.runtime import RuntimeDep
from identity.users import service
from identity.users.schemas import (
    AdminUserOut,
    CreatedUserOut,
    PasswordResetOut,
    ResetPassword,
    UserCreate,
    UserOut,
    UserUpdate,
)
from identity.validation import reject_nulls

router = APIRouter(prefix="/users", tags=["users"], route_class=IdempotentRoute)

AdminUser = Annotated[Principal, Depends(require_roles("admin"))]
StaffUser = Annotated[Principal, Depends(require_roles("agent", "admin", "leader"))]

# What only these routes answer (helpdesk_common.responses declares the rest).
_TAKEN = "The username or e-mail address is in use (`username_taken`, `email_taken`)"
_LAST_ADMIN = "the last active administrator (`last_admin`)"


@router.get("")
async def list_users(
    _: StaffUser,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: Limit = DEFAULT_LIMIT,
    role: Role | None = None,
    unit_id: uuid.UUID | None = None,
    is_active: bool | None = None,
    q: str | None = None,
) -> Page[UserOut]:
    """Ordered by full name (then id); ``q`` searches username, full name and e-mail.
    Pass ``next_cursor`` back as ``cursor`` for the next page (null on the last)."""
    async with session.begin():
        users, next_cursor = await service.list_users(
            session,
            cursor=cursor,
            limit=limit,
            role=role,
            unit_id=unit_id,
            is_active=is_active,
            q=q,
        )
    return Page(items=[UserOut.model_validate(u) for u in users], next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409, s409=_TAKEN))
@secret_fields("password", "temporary_password")
async def create_user(
    body: UserCreate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> CreatedUserOut:
    async with session.begin():
        user, generated = await service.create_user(
            session,
            passwords=runtime.passwords,
            actor=admin,
            fields=body.model_dump(exclude={"password"}),
            password=body.password,
        )
    out = AdminUserOut.model_validate(user).model_dump()
    return CreatedUserOut(**out, temporary_password=generated)


@router.get("/{user_id}")
async def get_user(user_id: uuid.UUID, _: AdminUser, session: SessionDep) -> AdminUserOut:
    async with session.begin():
        user = await service.get_user(session, user_id=user_id)
    return AdminUserOut.model_validate(user)


@router.patch("/{user_id}", responses=errors(409, s409=f"{_TAKEN}; {_LAST_ADMIN}"))
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, admin: AdminUser, session: SessionDep
) -> AdminUserOut:
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, fields=("full_name", "role", "language"))
    async with session.begin():
        user = await service.update_user(session, actor=admin, user_id=user_id, changes=changes)
    return AdminUserOut.model_validate(user)


@router.post(
    "/{user_id}/disable",
    responses=errors(409, s409=f"Your own account (`cannot_disable_self`); {_LAST_ADMIN}"),
)
async def disable_user(user_id: uuid.UUID, admin: AdminUser, session: SessionDep) -> AdminUserOut:
    async with session.begin():
        user = await service.set_active(session, actor=admin, user_id=user_id, active=False)
    return AdminUserOut.model_validate(user)


@router.post("/{user_id}/enable")
async def enable_user(user_id: uuid.UUID, admin: AdminUser, session: SessionDep) -> AdminUserOut:
    async with session.begin():
        user = await service.set_active(session, actor=admin, user_id=user_id, active=True)
    return AdminUserOut.model_validate(user)


@router.post("/{user_id}/reset-password")
@secret_fields("new_password", "temporary_password")
async def reset_password(
    user_id: uuid.UUID,
    admin: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
    body: Annotated[ResetPassword | None, Body()] = None,
) -> PasswordResetOut:
    """Set ``new_password``, or omit it (or the body) to get a generated one back once."""
    async with session.begin():
        user, generated = await service.reset_password(
            session,
            passwords=runtime.passwords,
            actor=admin,
            user_id=user_id,
            new_password=body.new_password if body else None,
        )
    return PasswordResetOut(
        user_id=user.id,
        must_change_password=user.must_change_password,
        temporary_password=generated,
    )
