"""The identity service's runtime: the shared infrastructure plus password hashing, token
signing, the login policy and the proxies whose X-Forwarded-For is believed."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from helpdesk_common.runtime import Runtime, runtime_of
from identity.auth.throttle import LoginPolicy
from identity.passwords import Passwords
from identity.settings import IdentitySettings
from identity.tokens import TokenIssuer

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    """The proxies (the gateway) whose X-Forwarded-For names the real client."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> TrustedProxies:
        return cls(
            tuple(ipaddress.ip_network(net, strict=False) for net in settings.trusted_proxies)
        )

    def client_ip(self, request: Request) -> str:
        """The caller's address; X-Forwarded-For is believed only from a trusted proxy."""
        peer = request.client.host if request.client else "unknown"
        if not self._trusted(peer):
            return peer
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        # Walk from the nearest hop outwards: the first untrusted one is the real client.
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


@dataclass(kw_only=True, eq=False)
class IdentityRuntime(Runtime):
    settings: IdentitySettings
    passwords: Passwords
    tokens: TokenIssuer
    policy: LoginPolicy
    proxies: TrustedProxies = field(default_factory=TrustedProxies)

    @classmethod
    def build(cls, base: Runtime, settings: IdentitySettings) -> IdentityRuntime:
        return base.extend(
            cls,
            settings=settings,
            passwords=Passwords.from_settings(settings),
            tokens=TokenIssuer(settings),
            policy=LoginPolicy.from_settings(settings),
            proxies=TrustedProxies.from_settings(settings),
        )

    def client_ip(self, request: Request) -> str:
        return self.proxies.client_ip(request)


RuntimeDep = Annotated[IdentityRuntime, Depends(runtime_of(IdentityRuntime))]
