"""Which address the per-IP login limit counts: X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from identity.runtime import TrustedProxies


def request_from(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 5000), "headers": headers})


@pytest.fixture(scope="module")
def runtime(identity_settings) -> TrustedProxies:
    return TrustedProxies.from_settings(identity_settings("identity_unused"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # A client reaching the service directly cannot pick its own address.
        ("198.51.100.7", "1.2.3.4", "198.51.100.7"),
        # Through the gateway (a private address) the forwarded client counts...
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),
        # ...the nearest untrusted hop, not whatever the client put first.
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", "198.51.100.7, 10.0.0.9", "198.51.100.7"),
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_client_address(runtime, peer, forwarded, expected):
    assert runtime.client_ip(request_from(peer, forwarded)) == expected
