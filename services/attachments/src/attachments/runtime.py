"""The attachments service's runtime: the shared infrastructure plus the object store and
the scan worker's wake-up."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends

from attachments.settings import AttachmentsSettings
from attachments.storage.s3 import ObjectStore
from helpdesk_common.aftercommit import Wakeup
from helpdesk_common.runtime import Runtime, runtime_of


@dataclass(kw_only=True, eq=False)
class AttachmentsRuntime(Runtime):
    settings: AttachmentsSettings
    store: ObjectStore
    # The upload checks' threads (files/checks.py).
    checks: ThreadPoolExecutor
    scan_requested: Wakeup = field(default_factory=lambda: Wakeup("attachments-scan"))


async def release_threads(runtime: AttachmentsRuntime) -> None:
    """A background worker that only waits: when the app stops (workers are cancelled) it
    lets the storage's and the checks' threads go."""
    try:
        await asyncio.Event().wait()
    finally:
        runtime.store.close()
        runtime.checks.shutdown(wait=False, cancel_futures=True)


RuntimeDep = Annotated[AttachmentsRuntime, Depends(runtime_of(AttachmentsRuntime))]
