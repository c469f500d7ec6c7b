"""A background worker that deletes what no longer matters (run by every replica)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from identity.auth import refresh, throttle
from identity.models import utcnow
from identity.runtime import IdentityRuntime

log = logging.getLogger("identity.housekeeping")

# Expired refresh tokens are kept a while so that a late reuse still reads as "expired".
EXPIRED_TOKEN_GRACE = timedelta(days=7)


async def housekeeping(runtime: IdentityRuntime) -> None:
    sessionmaker = runtime.sessionmaker
    while True:
        now = utcnow()
        async with sessionmaker() as session, session.begin():
            purged = await refresh.purge_expired(session, before=now - EXPIRED_TOKEN_GRACE)
            await throttle.purge_stale(session, policy=runtime.policy, now=now)
        if purged:
            log.info("purged %d expired refresh tokens", purged)
        await asyncio.sleep(runtime.settings.housekeeping_interval_seconds)
