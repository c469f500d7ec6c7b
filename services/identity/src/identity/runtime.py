"""The identity service's runtime: the shared infrastructure plus password hashing, token
signing, the login policy and the proxies whose X-Forwarded-For is believed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from helpdesk_common.client_address import TrustedProxies
from helpdesk_common.runtime import Runtime, runtime_of
from identity.auth.throttle import LoginPolicy
from identity.models import utcnow
from identity.passwords import Passwords
from identity.settings import IdentitySettings
from identity.tokens import TokenIssuer


@dataclass(kw_only=True, eq=False)
class IdentityRuntime(Runtime):
    settings: IdentitySettings
    passwords: Passwords
    tokens: TokenIssuer
    policy: LoginPolicy
    proxies: TrustedProxies = field(default_factory=TrustedProxies)
    # The sign-in throttle's clock: tests move it instead of sleeping through delays.
    clock: Callable[[], datetime] = field(default=utcnow)

    @classmethod
    def build(cls, base: Runtime, settings: IdentitySettings) -> IdentityRuntime:
        return base.extend(
            cls,
            settings=settings,
            passwords=Passwords.from_settings(settings),
            tokens=TokenIssuer(settings),
            policy=LoginPolicy.from_settings(settings),
            proxies=TrustedProxies.of(settings.trusted_proxies),
        )

    def client_ip(self, request: Request) -> str:
        return self.proxies.client_ip(request.scope)


RuntimeDep = Annotated[IdentityRuntime, Depends(runtime_of(IdentityRuntime))]
