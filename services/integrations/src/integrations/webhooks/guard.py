"""The SSRF guard: where a webhook may send.

A webhook URL is http or https, without credentials, to a host whose every address is
allowed: loopback, link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10),
unspecified (0.0.0.0/8, ::) and multicast addresses are refused unless a network of the
setting ``INTEGRATIONS_WEBHOOK_ALLOWED_NETWORKS`` contains them (an IPv4 address written as
IPv6 (``::ffff:127.0.0.1``, NAT64 ``64:ff9b::/96``, 6to4, Teredo) is judged as that IPv4
address too). The host is resolved when the
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


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 reached through a NAT64 gateway


def embedded(address: IPAddress) -> list[IPAddress]:
    """``address`` and the IPv4 addresses it leads to when written as IPv6 (mapped,
    NAT64, 6to4, Teredo): each is judged, so ``::ffff:127.0.0.1`` is loopback."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
    return found


def _kind(address: IPAddress) -> str | None:
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
    """Why ``address`` may not be called (None: it may): a forbidden kind that no allowed
    network contains, judged for the address and each IPv4 address it embeds."""
    for candidate in embedded(address):
        kind = _kind(candidate)
        if kind is None:
            continue
        if any(
            candidate.version == network.version and candidate in network for network in allowed
        ):
            continue
        shown = str(address) if candidate == address else f"{address} ({candidate})"
        return f"{shown} is a {kind} address"
    return None


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


DNS_TIMEOUT_SECONDS = 10.0


async def check_url(url: str, *, allowed_networks: Sequence[str]) -> Target:
    """Resolve and check ``url``; the address to connect to, or UrlRefused. Every address of
    the host must be allowed (else the one a client picks could be the forbidden one)."""
    parts = parse_url(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    allowed = parse_networks(allowed_networks)
    try:
        async with asyncio.timeout(DNS_TIMEOUT_SECONDS):
            addresses = await _resolve(host, port)
    except TimeoutError:
        raise UrlRefused("unresolvable_host", f"resolving {host!r} timed out") from None
    for address in addresses:
        refusal = address_refusal(address, allowed)
        if refusal is not None:
            raise UrlRefused("address_not_allowed", refusal)
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, addresses=tuple(addresses))
