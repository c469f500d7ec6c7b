"""/auth/*: sign in, refresh, sign out, own profile and password, the public key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import CurrentUser
from helpdesk_common.db import SessionDep
from helpdesk_common.responses import errors
from identity.auth import service
from identity.auth.refresh import ClientInfo
from identity.auth.schemas import (
    LoginIn,
    MeOut,
    PasswordChange,
    ProfileUpdate,
    PublicKeyOut,
    RefreshIn,
    TokenPairOut,
)
from identity.auth.service import AuthResult
from identity.models import User
from identity.runtime import IdentityRuntime, RuntimeDep
from identity.validation import reject_nulls

router = APIRouter(prefix="/auth", tags=["auth"])


def _client(request: Request, runtime: IdentityRuntime) -> ClientInfo:
    return ClientInfo(ip=runtime.client_ip(request), user_agent=request.headers.get("user-agent"))


async def _token_pair(
    session: AsyncSession, runtime: IdentityRuntime, *, user: User, refresh_token: str
) -> TokenPairOut:
    return TokenPairOut(
        access_token=runtime.tokens.access_token(user),
        refresh_token=refresh_token,
        expires_in=int(runtime.tokens.access_ttl.total_seconds()),
        refresh_expires_in=int(runtime.tokens.refresh_ttl.total_seconds()),
        user=await service.profile(session, user=user),
    )


async def _pair_or_error(
    session: AsyncSession, runtime: IdentityRuntime, step: Callable[[], Awaitable[AuthResult]]
) -> TokenPairOut:
    """Run ``step`` in one transaction; raise its error only after the commit, so that
    failure counters and revocations are kept, not rolled back with the error."""
    async with session.begin():
        result = await step()
        if result.error is None:
            user, token = result.unwrap()
            return await _token_pair(session, runtime, user=user, refresh_token=token)
    raise result.error


@router.post(
    "/login",
    responses=errors(
        401,
        403,
        429,
        s401="Wrong username or password (`invalid_credentials`)",
        s403="The account is disabled (`account_disabled`)",
        s429="Too many failed sign-ins: try again after `Retry-After` seconds",
    ),
)
async def login(
    body: LoginIn, request: Request, session: SessionDep, runtime: RuntimeDep
) -> TokenPairOut:
    """401 for a wrong user name or password alike (unknown names are answered as real ones);
    429 with Retry-After while this name and address wait after repeated failures, or the
    address is blocked (auth/throttle.py); an account is never locked."""
    return await _pair_or_error(
        session,
        runtime,
        lambda: service.login(
            session,
            runtime=runtime,
            username=body.username,
            password=body.password,
            client=_client(request, runtime),
        ),
    )


@router.post(
    "/refresh",
    responses=errors(401, s401="The refresh token is not valid, or its account disabled"),
)
async def refresh_tokens(
    body: RefreshIn, request: Request, session: SessionDep, runtime: RuntimeDep
) -> TokenPairOut:
    """Rotation: the token sent is used up; presenting it again ends the whole session."""
    return await _pair_or_error(
        session,
        runtime,
        lambda: service.rotate(
            session, runtime=runtime, token=body.refresh_token, client=_client(request, runtime)
        ),
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshIn, session: SessionDep) -> Response:
    async with session.begin():
        await service.logout(session, token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
async def me(principal: CurrentUser, session: SessionDep) -> MeOut:
    async with session.begin():
        user = await service.current_user(session, principal=principal)
        return await service.profile(session, user=user)


@router.patch("/me", responses=errors(409, s409="The e-mail address is in use (`email_taken`)"))
async def update_me(body: ProfileUpdate, principal: CurrentUser, session: SessionDep) -> MeOut:
    changes = body.model_dump(exclude_unset=True)
    reject_nulls(changes, fields=("full_name", "language"))
    async with session.begin():
        user = await service.update_profile(session, principal=principal, changes=changes)
        return await service.profile(session, user=user)


@router.post("/me/password")
async def change_password(
    body: PasswordChange,
    principal: CurrentUser,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
) -> TokenPairOut:
    """Every other session is signed out; the caller gets a fresh token pair."""
    return await _pair_or_error(
        session,
        runtime,
        lambda: service.change_password(
            session,
            runtime=runtime,
            principal=principal,
            current_password=body.current_password,
            new_password=body.new_password,
            client=_client(request, runtime),
        ),
    )


@router.get("/public-key")
async def public_key(runtime: RuntimeDep) -> PublicKeyOut:
    """The key that verifies access tokens; no authentication needed (it is public)."""
    return PublicKeyOut(
        public_key=runtime.tokens.public_key,
        issuer=runtime.tokens.issuer,
        audience=runtime.tokens.audience,
    )
