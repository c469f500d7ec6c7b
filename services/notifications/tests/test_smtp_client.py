"""The SMTP connection on its own, against aiosmtpd: pipelining or not, reuse, refusals, TLS,
timeouts; and against a scripted server for what aiosmtpd never does (odd replies).
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller

from helpdesk_testing import free_port
from helpdesk_testing.tls import self_signed_certificate
from notifications.email.compose import compose_message
from notifications.email.smtp import (
    SmtpConnection,
    SmtpProtocolError,
    SmtpRecipientRefused,
    SmtpTimeout,
    is_permanent,
)
from notifications.settings_admin.service import SmtpConfig


class Server:
    """Keeps what it accepted and refuses some addresses; may offer PIPELINING (aiosmtpd
    reads commands from a stream and answers them in order, so it can)."""

    def __init__(self, *, pipelining: bool = True) -> None:
        self.pipelining = pipelining
        self.refuse: set[str] = set()
        self.received: list[tuple[str, list[str], bytes]] = []
        self.sessions = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
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


@pytest.mark.parametrize("pipelining", [True, False])
async def test_mails_and_refusals_share_one_connection(pipelining):
    server = Server(pipelining=pipelining)
    server.refuse.add("nobody@example.test")
    controller = start(server)
    connection = SmtpConnection()
    try:
        settings = config(controller.port)
        await connection.send(settings, message("a@example.test"), recipient="a@example.test")
        assert connection.pipelining is pipelining
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


@pytest.mark.parametrize("pipelining", [True, False])
async def test_dots_and_bare_line_breaks_arrive_intact(pipelining):
    server = Server(pipelining=pipelining)
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


@pytest.mark.parametrize("pipelining", [True, False])
async def test_a_server_that_stops_answering_times_out_and_the_next_mail_reconnects(pipelining):
    class Stalling(Server):
        stall = True

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if self.stall:
                self.stall = False
                await asyncio.sleep(5)
            return await super().handle_DATA(server, session, envelope)

    server = Stalling(pipelining=pipelining)
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

    async def send_four() -> list[bool]:
        # Pipelined, over plain TCP and over TLS: the reply collector sits in front of
        # aiosmtplib's protocol on uvloop's transports too.
        connection = SmtpConnection()
        pipelined = []
        try:
            for security in ("none", "starttls"):
                for _ in range(2):
                    await connection.send(
                        config(controller.port, security=security, validate_certs=False),
                        message("a@example.test"),
                        recipient="a@example.test",
                    )
                pipelined.append(connection.pipelining)
        finally:
            await connection.close()
        return pipelined

    def in_uvloop() -> list[bool]:
        loop = uvloop.new_event_loop()
        try:
            return loop.run_until_complete(send_four())
        finally:
            loop.close()

    try:
        assert await asyncio.to_thread(in_uvloop) == [True, True]
        assert len(server.received) == 4
        assert server.sessions == 3  # plain; STARTTLS greets twice (before and after)
    finally:
        controller.stop()


# -- pipelining against a scripted server ----------------------------------------------------


class Scripted:
    """A raw SMTP server that offers PIPELINING and holds back every reply to MAIL, RCPT and
    DATA until it has the whole group (a client waiting for each reply would stall), then
    answers from ``replies``; ``dribble`` sends replies a byte at a time."""

    def __init__(self, **replies: str) -> None:
        self.replies = {
            "MAIL": "250 2.1.0 Sender OK",
            "RCPT": "250 2.1.5 Recipient OK",
            "DATA": "354 Go ahead",
            "message": "250 2.0.0 Queued",
            **replies,
        }
        self.dribble = False
        self.commands: list[str] = []
        self.messages: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def _say(self, writer: asyncio.StreamWriter, *lines: str) -> None:
        data = "".join(f"{line}\r\n" for line in lines).encode()
        chunks = [data[i : i + 1] for i in range(len(data))] if self.dribble else [data]
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()

    async def _message(self, reader: asyncio.StreamReader) -> bytes:
        lines = []
        while (line := await reader.readline()) not in (b".\r\n", b""):
            lines.append(line)
        return b"".join([*lines, b".\r\n"])

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._say(writer, "220 scripted ESMTP")
        group: list[str] = []
        try:
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                self.commands.append(line)
                verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
                if verb == "EHLO":
                    await self._say(writer, "250-scripted", "250-PIPELINING", "250 SIZE 100000")
                elif verb == "RSET":
                    group = []
                    await self._say(writer, "250 Reset")
                elif verb == "QUIT":
                    await self._say(writer, "221 Bye")
                    return
                elif verb in ("MAIL", "RCPT"):
                    group.append(self.replies[verb])
                elif verb == "DATA":
                    await self._say(writer, *group, self.replies["DATA"])
                    group = []
                    if self.replies["DATA"].startswith("354"):
                        self.messages.append(await self._message(reader))
                        await self._say(writer, self.replies["message"])
                else:
                    await self._say(writer, "500 Unknown command")
        except (ConnectionError, asyncio.IncompleteReadError):
            return  # the client hung up mid-session: what some tests do on purpose
        finally:
            writer.close()


async def _refused_once(server: Scripted, error: type[BaseException]) -> bool:
    """Send one mail to ``server``, which must fail with ``error``; whether the connection
    stayed open after it."""
    connection = SmtpConnection()
    try:
        with pytest.raises(error):
            await connection.send(
                config(server.port, timeout=2.0),
                message("a@example.test"),
                recipient="a@example.test",
            )
        return connection.is_open
    finally:
        await connection.close()


async def test_pipelined_group_goes_out_at_once_and_replies_may_come_in_pieces():
    async with Scripted() as server:
        server.dribble = True
        connection = SmtpConnection()
        try:
            settings = config(server.port, timeout=2.0)
            for recipient in ("a@example.test", "b@example.test"):
                await connection.send(settings, message(recipient), recipient=recipient)
            assert connection.pipelining
        finally:
            await connection.close()
        mails = [c for c in server.commands if c.startswith(("MAIL", "RCPT"))]
        # SIZE as RFC 1870 counts it: the message with CRLF line ends, before dot-stuffing.
        size = len(message("a@example.test"))
        assert mails[0] == f"MAIL FROM:<helpdesk@localhost> SIZE={size}"
        assert mails[1:] == [
            "RCPT TO:<a@example.test>",
            f"MAIL FROM:<helpdesk@localhost> SIZE={size}",
            "RCPT TO:<b@example.test>",
        ]
        assert len(server.messages) == 2


@pytest.mark.parametrize(
    ("replies", "error", "permanent"),
    [
        ({"MAIL": "451 4.3.0 Try again later"}, aiosmtplib.SMTPSenderRefused, False),
        ({"RCPT": "550 5.1.1 No such user"}, aiosmtplib.SMTPRecipientRefused, True),
        ({"RCPT": "450 4.2.1 Mailbox busy"}, aiosmtplib.SMTPRecipientRefused, False),
        ({"DATA": "554 5.5.1 No valid recipients"}, aiosmtplib.SMTPDataError, False),
        ({"message": "552 5.3.4 Message too big"}, aiosmtplib.SMTPDataError, False),
    ],
)
async def test_a_refusal_mid_pipeline_raises_as_without_and_the_connection_goes_on(
    replies, error, permanent
):
    async with Scripted(**replies) as server:
        connection = SmtpConnection()
        try:
            settings = config(server.port, timeout=2.0)
            with pytest.raises(error) as refused:
                await connection.send(
                    settings, message("a@example.test"), recipient="a@example.test"
                )
            assert is_permanent(refused.value) is permanent
            # The envelope was reset and the connection kept: the next mail goes out on it.
            assert server.commands[-1] == "RSET"
            server.replies.update(MAIL="250 OK", RCPT="250 OK", DATA="354 Go", message="250 OK")
            await connection.send(settings, message("b@example.test"), recipient="b@example.test")
            assert connection.is_open
        finally:
            await connection.close()
        assert sum(c.startswith("EHLO") for c in server.commands) == 1
        # The refused mail's content never went out (unless refused after it); where the
        # server said 354 regardless, it got an empty message (RFC 2920 3.1).
        sent = [m for m in server.messages if m != b".\r\n"]
        assert len(sent) == (2 if "message" in replies else 1)


async def test_data_accepted_after_a_refused_recipient_gets_an_empty_message():
    """RFC 2920 3.1: a server may say 354 although no recipient was taken; the client must
    then send an empty message (which the server must not deliver), not the mail."""
    async with Scripted(RCPT="550 5.1.1 No such user") as server:
        assert await _refused_once(server, aiosmtplib.SMTPRecipientRefused) is True
        assert server.messages == [b".\r\n"]
        assert "RSET" in server.commands


async def test_replies_that_no_longer_pair_with_commands_close_the_connection():
    async with Scripted(MAIL="250 OK\r\n250 One too many") as server:
        assert await _refused_once(server, SmtpProtocolError) is False
        assert server.messages == []


async def test_a_server_that_hangs_up_mid_pipeline_is_a_disconnect():
    class HangingUp(Scripted):
        async def _say(self, writer: asyncio.StreamWriter, *lines: str) -> None:
            if lines and lines[-1].startswith("354"):
                writer.close()  # the group's replies never come
                return
            await super()._say(writer, *lines)

    async with HangingUp() as server:
        assert await _refused_once(server, aiosmtplib.SMTPServerDisconnected) is False
