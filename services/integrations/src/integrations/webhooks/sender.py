"""The webhook sender (being built)."""

from __future__ import annotations

import asyncio

from integrations.runtime import IntegrationsRuntime


async def webhook_sender(runtime: IntegrationsRuntime) -> None:
    await asyncio.Event().wait()
