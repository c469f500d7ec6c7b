"""The mailbox poller (being built)."""

from __future__ import annotations

import asyncio

from integrations.runtime import IntegrationsRuntime


async def mail_poller(runtime: IntegrationsRuntime) -> None:
    await asyncio.Event().wait()
