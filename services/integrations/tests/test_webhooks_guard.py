"""The SSRF guard's rules, and one POST as the sender makes it: over TLS to the checked
address with the URL's host as the server name (SNI and the certificate's check), and no
redirect followed."""

from __future__ import annotations

import ipaddress
import ssl
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from helpdesk_testing.tls import self_signed_certificate
from integrations.webhooks.guard import UrlRefused, address_refusal, check_url
from integrations.webhooks.models import Webhook, WebhookDelivery
from integrations.webhooks.sender import new_client, post

LOOPBACK = ["127.0.0.0/8", "::1/128"]


@pytest.mark.parametrize(
    ("address", "allowed", "refused"),
    [
        ("127.0.0.1", [], "loopback"),
        ("127.255.0.9", [], "loopback"),
        ("::1", [], "loopback"),
        ("::ffff:127.0.0.1", [], "loopback"),
        ("169.254.169.254", [], "link-local"),
        ("fe80::1", [], "link-local"),
        ("0.0.0.0", [], "unspecified"),
        ("0.1.2.3", [], "unspecified"),
        ("::", [], "unspecified"),
        ("224.0.0.251", [], "multicast"),
        ("ff02::1", [], "multicast"),
        ("127.0.0.1", ["127.0.0.0/8"], None),
        ("::ffff:127.0.0.1", ["127.0.0.0/8"], None),
        ("::1", ["127.0.0.0/8"], "loopback"),
        ("169.254.169.254", ["127.0.0.0/8"], "link-local"),
        ("64:ff9b::7f00:1", [], "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", [], "link-local"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1", [], "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", [], "link-local"),  # 6to4 of the metadata address
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", [], "loopback"),  # Teredo, client 127.0.0.1
        ("64:ff9b::7f00:1", ["127.0.0.0/8"], None),
        ("64:ff9b::cb00:7107", [], None),  # NAT64 of 203.0.113.7
        ("10.1.2.3", [], None),
        ("203.0.113.7", [], None),
        ("2001:db8::1", [], None),
    ],
)
def test_address_rules(address: str, allowed: list[str], refused: str | None) -> None:
    networks = [ipaddress.ip_network(n) for n in allowed]
    reason = address_refusal(ipaddress.ip_address(address), networks)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/", "unsupported_scheme"),
        ("javascript:alert(1)", "unsupported_scheme"),
        ("http:///nohost", "invalid_url"),
        ("http://a:b@203.0.113.7/", "invalid_url"),
        ("http://203.0.113.7:99999/", "invalid_url"),
        ("http://[::1]/", "address_not_allowed"),
        ("http://localhost/", "address_not_allowed"),
        ("http://nothing.invalid/", "unresolvable_host"),
    ],
)
async def test_urls_refused(url: str, code: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        await check_url(url, allowed_networks=[])
    assert refused.value.code == code


async def test_allowed_url_keeps_host_and_port() -> None:
    target = await check_url("HTTPS://LocalHost:8443/x?y=1", allowed_networks=LOOPBACK)
    assert target.scheme == "https" and target.host == "localhost" and target.port == 8443
    assert all(a.is_loopback for a in target.addresses)


class Seen:
    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.server_names: list[str | None] = []


@asynccontextmanager
async def server(
    seen: Seen, *, tls: ssl.SSLContext | None = None, redirect: str | None = None
) -> AsyncIterator[int]:
    async def handle(request: web.Request) -> web.Response:
        seen.hosts.append(request.headers["Host"])
        if redirect:
            raise web.HTTPFound(redirect)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


def _delivery_to(url: str) -> tuple[WebhookDelivery, Webhook]:
    webhook = Webhook(id=uuid.uuid4(), name="t", url=url, event_types=["ticket.created"])
    delivery = WebhookDelivery(
        id=uuid.uuid4(), webhook_id=webhook.id, event_type="ticket.created", request_body="{}"
    )
    return delivery, webhook


async def test_tls_uses_the_urls_host_as_server_name(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path, "localhost")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    seen = Seen()

    def remember(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        seen.server_names.append(name)

    tls.sni_callback = remember
    trusting = ssl.create_default_context(cafile=str(cert))
    async with (
        server(seen, tls=tls) as port,
        new_client(verify=trusting) as client,
    ):
        delivery, webhook = _delivery_to(f"https://localhost:{port}/hook")
        attempt = await post(
            client,
            delivery=delivery,
            webhook=webhook,
            secret="s" * 16,
            allowed_networks=LOOPBACK,
            timeout=5,
        )
        assert attempt.ok, attempt.error
        assert seen.hosts == [f"localhost:{port}"]
        assert seen.server_names == ["localhost"]
        # The certificate is checked against the URL's host: an IP in the URL does not match.
        delivery, webhook = _delivery_to(f"https://127.0.0.1:{port}/hook")
        wrong = await post(
            client,
            delivery=delivery,
            webhook=webhook,
            secret="s" * 16,
            allowed_networks=LOOPBACK,
            timeout=5,
        )
        assert not wrong.ok and wrong.error is not None
        assert "certificate" in wrong.error.lower() or "ssl" in wrong.error.lower()
        assert len(seen.hosts) == 1


async def test_redirects_are_not_followed() -> None:
    seen = Seen()
    async with server(seen, redirect="http://169.254.169.254/latest/meta-data/") as port:
        client = new_client()
        try:
            delivery, webhook = _delivery_to(f"http://127.0.0.1:{port}/hook")
            attempt = await post(
                client,
                delivery=delivery,
                webhook=webhook,
                secret="s" * 16,
                allowed_networks=LOOPBACK,
                timeout=5,
            )
        finally:
            await client.aclose()
    assert not attempt.ok
    assert attempt.status_code == 302 and attempt.error == "HTTP 302"
    assert len(seen.hosts) == 1
