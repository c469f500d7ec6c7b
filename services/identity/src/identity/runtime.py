"""Process-wide objects the routes need, kept on ``app.state.runtime``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from identity.auth.throttle import LoginPolicy
from identity.passwords import Passwords
from identity.settings import IdentitySettings
from identity.tokens import TokenIssuer


@dataclass
class Runtime:
    settings: IdentitySettings
    passwords: Passwords
    tokens: TokenIssuer
    policy: LoginPolicy
    trusted_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default_factory=tuple
    )

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Runtime:
        return cls(
            settings=settings,
            passwords=Passwords.from_settings(settings),
            tokens=TokenIssuer(settings),
            policy=LoginPolicy.from_settings(settings),
            trusted_networks=tuple(
                ipaddress.ip_network(net, strict=False) for net in settings.trusted_proxies
            ),
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
        return any(ip in network for network in self.trusted_networks)


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
