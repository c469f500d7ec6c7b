"""The attachments service's runtime: the shared infrastructure plus the object store and
the scan worker's wake-up."""

from __future__ import annotations

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
    scan_requested: Wakeup = field(default_factory=lambda: Wakeup("attachments-scan"))


RuntimeDep = Annotated[AttachmentsRuntime, Depends(runtime_of(AttachmentsRuntime))]
