"""The reports service's runtime: the shared infrastructure plus the live change feed and
the rebuild worker's wake-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends

from helpdesk_common.aftercommit import Wakeup
from helpdesk_common.runtime import Runtime, runtime_of
from reports.live.feed import ChangeFeed
from reports.settings import ReportsSettings


@dataclass(kw_only=True, eq=False)
class ReportsRuntime(Runtime):
    settings: ReportsSettings
    changes: ChangeFeed = field(default_factory=ChangeFeed)
    rebuild_requested: Wakeup = field(default_factory=lambda: Wakeup("reports-rebuild"))


RuntimeDep = Annotated[ReportsRuntime, Depends(runtime_of(ReportsRuntime))]
