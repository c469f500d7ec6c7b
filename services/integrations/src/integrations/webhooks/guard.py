"""The SSRF guard: where a webhook may send.

A webhook URL is http or https, without credentials, to a host whose every address is
allowed: loopback, link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10),
unspecified (0.0.0.0/8, ::) and multicast addresses are refused unless a network of the
setting ``INTEGRATIONS_WEBHOOK_ALLOWED_NETWORKS`` contains them (an IPv4 address written as
IPv6, ``::ffff:127.0.0.1``, is judged as the IPv4 address). The host is resolved when the
webhook is saved (a 422) and again before every attempt, and the attempt connects to the
address that was checked (never resolving again: no DNS rebinding between check and use).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from helpdesk_common.client_address import parse_networks
from helpdesk_common.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_ZERO_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # "this network": reaches the host itself


class UrlRefused(Exception):
    """The URL may not be called; ``code`` says why (``reason`` in words)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    def as_input_error(self, field: str = "url") -> InvalidInput:
        return InvalidInput(self.code, f"The URL is refused: {self.reason}", field=field)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``addresses``, in the resolver's order, each
    checked) and what to call it (``host``)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def _forbidden(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified or (
        isinstance(address, ipaddress.IPv4Address) and address in _ZERO_NETWORK
    ):
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    return None


def address_refusal(address: IPAddress, allowed: Sequence[Network]) -> str | None:
    """Why ``address`` may not be called (None: it may)."""
    kind = _forbidden(address)
    if kind is None:
        return None
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    for network in allowed:
        if any(c.version == network.version and c in network for c in candidates):
            return None
    return f"{address} is a {kind} address"


def parse_url(url: str) -> SplitResult:
    """The URL's parts, or UrlRefused for a scheme other than http(s), credentials, no host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("invalid_url", f"not a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UrlRefused("unsupported_scheme", "only http:// and https:// URLs are called")
    if not parts.hostname:
        raise UrlRefused("invalid_url", "the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("invalid_url", "credentials in the URL are not allowed (use the secret)")
    if port == 0:
        raise UrlRefused("invalid_url", "port 0 cannot be called")
    return parts


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        reason = f"the host {host!r} does not resolve ({exc})"
        raise UrlRefused("unresolvable_host", reason) from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # A scoped IPv6 address ends in %<zone>: not a global one.
        text = str(sockaddr[0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UrlRefused("unresolvable_host", f"the host {host!r} has no address")
    return addresses


async def check_url(url: str, *, allowed_networks: Sequence[str]) -> Target:
    """Resolve and check ``url``; the address to connect to, or UrlRefused. Every address of
    the host must be allowed (else the one a client picks could be the forbidden one)."""
    parts = parse_url(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    allowed = parse_networks(allowed_networks)
    addresses = await _resolve(host, port)
    for address in addresses:
        refusal = address_refusal(address, allowed)
        if refusal is not None:
            raise UrlRefused("address_not_allowed", refusal)
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, addresses=tuple(addresses))
