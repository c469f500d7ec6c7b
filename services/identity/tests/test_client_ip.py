"""Which address the sign-in throttle counts: X-Forwarded-For only from trusted proxies
(helpdesk_common.client_address; the gateway's own rule is tested in gateway/tests)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from helpdesk_common.client_address import TrustedProxies


def request_from(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "client": (peer, 5000), "headers": headers})


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # A client reaching the service directly cannot pick its own address...
        ("198.51.100.7", ["1.2.3.4"], "198.51.100.7"),
        # ...nor can one on a private network that is not the configured gateway.
        ("10.0.0.3", ["1.2.3.4"], "10.0.0.3"),
        # Through the gateway the forwarded client counts...
        ("10.0.0.2", ["198.51.100.7"], "198.51.100.7"),
        # ...the nearest untrusted hop, not whatever the client put first.
        ("10.0.0.2", ["1.2.3.4, 198.51.100.7"], "198.51.100.7"),
        ("10.0.0.2", ["1.2.3.4", "198.51.100.7"], "198.51.100.7"),
        ("127.0.0.1", ["198.51.100.7, 10.0.0.2"], "198.51.100.7"),
        ("127.0.0.1", [], "127.0.0.1"),
        # Not an address: the peer counts, never a key the client made up.
        ("10.0.0.2", ["attacker-picked"], "10.0.0.2"),
        ("10.0.0.2", ["2001:DB8::0:1"], "2001:db8::1"),
    ],
)
def test_client_address(peer, forwarded, expected):
    proxies = TrustedProxies.of(["127.0.0.1", "::1", "10.0.0.2/32"])
    assert proxies.client_ip(request_from(peer, *forwarded).scope) == expected


def test_the_service_trusts_loopback_only_unless_configured(identity_settings):
    default = identity_settings("identity_unused")
    request = request_from("10.0.0.2", "1.2.3.4")
    assert TrustedProxies.of(default.trusted_proxies).client_ip(request.scope) == "10.0.0.2"
    configured = identity_settings("identity_unused", trusted_proxies=["10.0.0.2"])
    assert TrustedProxies.of(configured.trusted_proxies).client_ip(request.scope) == "1.2.3.4"
