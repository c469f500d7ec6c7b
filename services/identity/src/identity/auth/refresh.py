"""Refresh-token storage: issue, rotate, revoke. Tokens are stored only as hashes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import RefreshToken, utcnow
from identity.tokens import TokenIssuer, hash_refresh_token


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None


async def issue(
    session: AsyncSession,
    *,
    tokens: TokenIssuer,
    user_id: uuid.UUID,
    client: ClientInfo,
    family_id: uuid.UUID | None = None,
) -> str:
    """Store a new refresh token (a new family unless ``family_id``); returns it in clear."""
    new = tokens.new_refresh_token()
    now = utcnow()
    session.add(
        RefreshToken(
            id=uuid.uuid4(),
            user_id=user_id,
            family_id=family_id or uuid.uuid4(),
            token_hash=new.token_hash,
            issued_at=now,
            expires_at=now + tokens.refresh_ttl,
            client_ip=client.ip,
            user_agent=(client.user_agent or "")[:300] or None,
        )
    )
    return new.token


async def find_for_update(session: AsyncSession, *, token: str) -> RefreshToken | None:
    # The row lock makes two concurrent refreshes with one token take turns: the second
    # sees the token already rotated.
    return await session.scalar(
        sa.select(RefreshToken)
        .where(RefreshToken.token_hash == hash_refresh_token(token))
        .with_for_update()
    )


async def revoke_family(session: AsyncSession, *, family_id: uuid.UUID, reason: str) -> None:
    await _revoke(session, RefreshToken.family_id == family_id, reason=reason)


async def revoke_user(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    reason: str,
) -> None:
    """Revoke every live refresh token of the user: every session must sign in again."""
    await _revoke(session, RefreshToken.user_id == user_id, reason=reason)


async def _revoke(session: AsyncSession, condition: sa.ColumnElement[bool], *, reason: str) -> None:
    await session.execute(
        sa.update(RefreshToken)
        .where(condition, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


async def purge_expired(session: AsyncSession, *, before: datetime) -> int:
    """Forget tokens that expired before ``before``: they can no longer be used or reused."""
    # A DELETE's result is a CursorResult (it has rowcount); execute() is annotated with the
    # general Result.
    result = cast(
        CursorResult[Any],
        await session.execute(
            sa.delete(RefreshToken)
            .where(RefreshToken.expires_at < before)
            .execution_options(synchronize_session=False)
        ),
    )
    return int(result.rowcount or 0)
