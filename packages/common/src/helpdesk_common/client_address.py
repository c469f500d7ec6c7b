"""The client's address: ``X-Forwarded-For`` is believed only from configured proxies.

One rule for the gateway and the services. The gateway believes the header only from its
ingress (``GATEWAY_TRUSTED_PROXIES``, none by default) and sends the address it settled on
as the only ``X-Forwarded-For``; a service believes the header only from the gateway
(``<SERVICE>_TRUSTED_PROXIES``, loopback by default). uvicorn's own proxy-header rewriting
must stay off (``--no-proxy-headers``): it trusts 127.0.0.1 by default and would replace
``scope["client"]`` with whatever a local client wrote before this rule could see the peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A service behind the gateway on the same host (deploy/local/up.py) trusts only loopback;
# elsewhere (containers) the gateway's address is configured.
LOOPBACK: tuple[str, ...] = ("127.0.0.0/8", "::1/128")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.5``, ``10.0.0.0/24``); raises ValueError on a bad one."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


@dataclass(frozen=True)
class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` names the real client."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, values: Iterable[str]) -> TrustedProxies:
        return cls(parse_networks(values))

    def client_ip(self, scope: Mapping[str, Any]) -> str:
        """The caller's address from an ASGI scope (a Starlette ``Request`` is one too)."""
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self.trusted(peer):
            return peer
        hops: list[str] = []
        for key, value in scope.get("headers") or ():
            if key.lower() == b"x-forwarded-for":
                hops.extend(hop.strip() for hop in value.decode("latin-1").split(","))
        hops = [hop for hop in hops if hop]
        # Walk from the nearest hop outwards: the first untrusted one is the real client
        # (what a client wrote further out is not believed). Only well-formed addresses
        # count: anything else would let a client pick a throttling key of its own.
        for hop in reversed(hops):
            if not _is_address(hop):
                return peer
            if not self.trusted(hop):
                return _normal(hop)
        return _normal(hops[0]) if hops else peer

    def trusted(self, address: str) -> bool:
        if not self.networks:
            return False  # none trusted (the gateway's default): no address to parse
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _normal(address: str) -> str:
    # One spelling per address ("::FFFF:1.2.3.4" and "::ffff:1.2.3.4" count as one).
    return str(ipaddress.ip_address(address))
