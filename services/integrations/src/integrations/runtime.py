"""The integrations service's runtime: the shared infrastructure plus the secrets' cipher
and the HTTP client for the tickets and attachments services' internal APIs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends

from helpdesk_common.crypto import SecretCipher
from helpdesk_common.runtime import Runtime, runtime_of
from integrations.settings import IntegrationsSettings


@dataclass(kw_only=True, eq=False)
class IntegrationsRuntime(Runtime):
    settings: IntegrationsSettings
    cipher: SecretCipher
    # Calls to the other services' /internal/ APIs (X-Internal-Token set).
    internal: httpx.AsyncClient


RuntimeDep = Annotated[IntegrationsRuntime, Depends(runtime_of(IntegrationsRuntime))]
