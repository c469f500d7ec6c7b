"""The SMTP connection on its own, against aiosmtpd: reuse, refusals, TLS, timeouts."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from helpdesk_testing import free_port
from helpdesk_testing.tls import self_signed_certificate
from notifications.email.compose import compose_message
from notifications.email.smtp import (
    SmtpConnection,
    SmtpRecipientRefused,
    SmtpTimeout,
    is_permanent,
)
from notifications.settings_admin.service import SmtpConfig


class Server:
    """Keeps what it accepted and refuses some addresses."""

    def __init__(self) -> None:
        self.refuse: set[str] = set()
        self.received: list[tuple[str, list[str], bytes]] = []
        self.sessions = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address, options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def config(port: int, **overrides: Any) -> SmtpConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": None,
        "password": None,
        "sender": "Helpdesk <helpdesk@localhost>",
        "timeout": 3.0,
        "validate_certs": True,
        "source": "environment",
    }
    values.update(overrides)
    return SmtpConfig(**values)


def message(recipient: str, body: str = "Isi pesan.") -> bytes:
    return compose_message(
        delivery_id=uuid.uuid4(),
        sender="Helpdesk <helpdesk@localhost>",
        recipient=recipient,
        recipient_name="Penerima",
        subject="Uji",
        body_text=body,
        body_html=f"<p>{body}</p>",
    )


def start(handler: Server, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


async def test_mails_and_refusals_share_one_connection():
    server = Server()
    server.refuse.add("nobody@example.test")
    controller = start(server)
    connection = SmtpConnection()
    try:
        settings = config(controller.port)
        await connection.send(settings, message("a@example.test"), recipient="a@example.test")
        with pytest.raises(SmtpRecipientRefused) as refused:
            await connection.send(
                settings, message("nobody@example.test"), recipient="nobody@example.test"
            )
        assert refused.value.code == 550 and is_permanent(refused.value)
        # The refusal left the connection usable: the envelope was reset.
        await connection.send(settings, message("b@example.test"), recipient="b@example.test")
        assert [rcpts for _, rcpts, _ in server.received] == [
            ["a@example.test"],
            ["b@example.test"],
        ]
        assert all(sender == "helpdesk@localhost" for sender, _, _ in server.received)
        assert server.sessions == 1
    finally:
        await connection.close()
        controller.stop()


async def test_dots_and_bare_line_breaks_arrive_intact():
    server = Server()
    controller = start(server)
    connection = SmtpConnection()
    raw = b"Subject: titik\r\n\r\n.awal baris\r\n..dua titik\nbaris LF saja\r\n."
    try:
        await connection.send(config(controller.port), raw, recipient="a@example.test")
    finally:
        await connection.close()
        controller.stop()
    [(_, _, content)] = server.received
    assert content == b"Subject: titik\r\n\r\n.awal baris\r\n..dua titik\r\nbaris LF saja\r\n.\r\n"


async def test_an_address_that_would_break_the_command_is_refused_before_sending():
    server = Server()
    controller = start(server)
    connection = SmtpConnection()
    try:
        with pytest.raises(ValueError) as error:
            await connection.send(
                config(controller.port),
                message("x@example.test"),
                recipient="x@example.test>\r\nRCPT TO:<y@example.test",
            )
        assert is_permanent(error.value)
        assert server.received == []
    finally:
        await connection.close()
        controller.stop()


async def test_a_server_that_stops_answering_times_out_and_the_next_mail_reconnects():
    class Stalling(Server):
        stall = True

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if self.stall:
                self.stall = False
                await asyncio.sleep(5)
            return await super().handle_DATA(server, session, envelope)

    server = Stalling()
    controller = start(server)
    connection = SmtpConnection()
    settings = config(controller.port, timeout=0.5)
    try:
        with pytest.raises(SmtpTimeout):
            await connection.send(settings, message("a@example.test"), recipient="a@example.test")
        assert not connection.is_open
        await connection.send(settings, message("b@example.test"), recipient="b@example.test")
        assert [rcpts for _, rcpts, _ in server.received][-1] == ["b@example.test"]
    finally:
        await connection.close()
        controller.stop()


# -- TLS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"), "127.0.0.1")


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_with_and_without_certificate_checks(certificate, security):
    server = Server()
    tls = server_context(certificate)
    kwargs = {"tls_context": tls, "require_starttls": True}
    if security == "tls":
        kwargs = {"ssl_context": tls}
    controller = start(server, **kwargs)
    connection = SmtpConnection()
    try:
        # A self-signed certificate: refused while certificates are checked ...
        with pytest.raises(Exception, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
            await connection.send(
                config(controller.port, security=security),
                message("a@example.test"),
                recipient="a@example.test",
            )
        assert server.received == []
        # ... and used when the administrator turned the checks off.
        await connection.send(
            config(controller.port, security=security, validate_certs=False),
            message("a@example.test"),
            recipient="a@example.test",
        )
        assert [rcpts for _, rcpts, _ in server.received] == [["a@example.test"]]
    finally:
        await connection.close()
        controller.stop()


async def test_under_uvloop_as_the_service_runs(certificate):
    """uvicorn runs the service on uvloop, whose transports differ from asyncio's."""
    uvloop = pytest.importorskip("uvloop")
    server = Server()
    controller = start(server, tls_context=server_context(certificate))

    async def send_two() -> None:
        connection = SmtpConnection()
        try:
            for security in ("none", "starttls"):
                await connection.send(
                    config(controller.port, security=security, validate_certs=False),
                    message("a@example.test"),
                    recipient="a@example.test",
                )
        finally:
            await connection.close()

    def in_uvloop() -> None:
        loop = uvloop.new_event_loop()
        try:
            loop.run_until_complete(send_two())
        finally:
            loop.close()

    try:
        await asyncio.to_thread(in_uvloop)
        assert len(server.received) == 2
    finally:
        controller.stop()
