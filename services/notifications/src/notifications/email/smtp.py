"""Sending over SMTP with aiosmtplib, on connections kept open between mails.

The sender hands mails to the server over a few long-lived connections (one per send
worker), so connect, EHLO, STARTTLS and AUTH happen once per connection, not once per mail.

When the server offers PIPELINING (RFC 2920; Postfix, Exim, Exchange and the big providers
all do), a mail is two round trips instead of four: MAIL FROM, RCPT TO and DATA go out in
one write and their replies are read in order, then the message. aiosmtplib does not
pipeline, and its protocol object reads exactly one reply per command (it drops what arrives
while it awaits none), so each connection gets a thin :class:`_Replies` protocol in front of
aiosmtplib's: it collects the replies of a group of commands and passes everything else on.
aiosmtplib still does everything else (connect, EHLO, STARTTLS, AUTH, RSET, QUIT) and the
whole transaction when the server does not pipeline.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time

import aiosmtplib
from aiosmtplib import SMTPResponse
from aiosmtplib.protocol import SMTPProtocol

from notifications.settings_admin.service import SmtpConfig

# An address goes into a command line: nothing that could end or extend the command.
_UNSAFE_ADDRESS = re.compile(r"[\x00-\x20\x7f<>]")
# A lone CR or LF in a message (the wire wants CRLF), and a line that starts with a dot.
_LONE_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")
# No server's reply to a few commands comes near this; a longer one is not SMTP.
_MAX_REPLY_BYTES = 64 * 1024

# aiosmtplib's errors, re-exported under the names the rest of the service uses.
SmtpTimeout = aiosmtplib.SMTPTimeoutError
SmtpRecipientRefused = aiosmtplib.SMTPRecipientRefused


class SmtpConfigurationError(Exception):
    """The SMTP settings cannot be used as they are (the administrator must fix them)."""


class SmtpProtocolError(aiosmtplib.SMTPException):
    """The server's replies make no sense (the connection is closed, the mail retried)."""


def is_permanent(error: BaseException) -> bool:
    """True when sending again cannot help: the server refused the address itself (5xx)."""
    if isinstance(error, aiosmtplib.SMTPRecipientRefused):
        return 500 <= error.code < 600
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= refused.code < 600 for refused in error.recipients)
    # An address that cannot be put on the wire at all.
    return isinstance(error, ValueError)


def describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"


_hostname: str | None = None


async def _local_hostname() -> str:
    """This host's name for EHLO, looked up once (off the event loop: it may ask DNS)."""
    global _hostname
    if _hostname is None:
        name = await asyncio.to_thread(socket.getfqdn)
        _hostname = name if name and name.isascii() and " " not in name else "localhost"
    return _hostname


def _check_address(value: str) -> None:
    if not value or _UNSAFE_ADDRESS.search(value):
        raise ValueError(f"cannot send to or from the address {value!r}")


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not config.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def _connect(config: SmtpConfig) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        username=config.username or None,
        password=config.password if config.username else None,
        local_hostname=await _local_hostname(),
        timeout=config.timeout,
        use_tls=config.security == "tls",
        # None would upgrade whenever the server offers it; the administrator decides here.
        start_tls=config.security == "starttls",
        tls_context=_tls_context(config) if config.security != "none" else None,
    )
    await client.connect()
    try:
        if client.is_ehlo_or_helo_needed:
            # Without TLS or AUTH, connect() greets no further; the extensions (PIPELINING,
            # SIZE, SMTPUTF8) are needed before the first mail.
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                await client.helo()
    except BaseException:
        client.close()
        raise
    return client


# -- pipelining ---------------------------------------------------------------------------


def _wire_content(message: bytes) -> tuple[bytes, int]:
    """The message as DATA carries it (CRLF line ends, leading dots doubled, the final dot
    line) and its size for SIZE (RFC 1870: before dot-stuffing). Composed messages already
    have CRLF line ends: counting is far cheaper than rewriting them."""
    crlf = message.count(b"\r\n")
    if message.count(b"\n") != crlf or message.count(b"\r") != crlf:
        message = _LONE_LINE_BREAK.sub(b"\r\n", message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    size = len(message)
    if message.startswith(b".") or b"\n." in message:
        message = _LEADING_DOT.sub(b"..", message)
    return message + b".\r\n", size


class _Replies(asyncio.Protocol):
    """The connection's protocol in front of aiosmtplib's: while a group of pipelined
    commands is out, it collects their replies, in order; otherwise it passes every byte and
    every event of the connection on to aiosmtplib's protocol untouched."""

    def __init__(self, inner: SMTPProtocol) -> None:
        self.inner = inner
        self._buffer = bytearray()
        self._lines: list[str] = []
        self._replies: list[SMTPResponse] = []
        self._expected = 0
        self._done: asyncio.Future[list[SMTPResponse]] | None = None

    @classmethod
    def install(cls, client: aiosmtplib.SMTP) -> _Replies:
        protocol = client.protocol
        if protocol is None or protocol.transport is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        replies = cls(protocol)
        # A public asyncio (and uvloop) transport method: the transport now feeds this one.
        protocol.transport.set_protocol(replies)
        return replies

    async def exchange(self, data: bytes, replies: int, timeout: float) -> list[SMTPResponse]:
        """Write ``data`` (one or more commands, or a message) and read ``replies`` replies."""
        if self._done is not None:
            raise RuntimeError("one group of commands at a time")
        self._expected = replies
        self._replies = []
        self._done = asyncio.get_running_loop().create_future()
        try:
            self.inner.write(data)
            async with asyncio.timeout(timeout):
                return await self._done
        except TimeoutError as exc:
            raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response") from exc
        finally:
            self._done = None

    def data_received(self, data: bytes) -> None:
        done = self._done
        if done is None:
            self.inner.data_received(data)
            return
        if done.done():
            return  # the group failed already: the connection is being closed
        buffer = self._buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = bytes(buffer[start:end]).rstrip(b"\r")
            start = end + 1
            try:
                code = int(line[:3])
            except ValueError:
                self._fail(SmtpProtocolError(f"malformed reply line: {line[:200]!r}"))
                return
            self._lines.append(line[4:].decode("utf-8", "surrogateescape").strip())
            if line[3:4] != b"-":
                self._replies.append(SMTPResponse(code, "\n".join(self._lines)))
                self._lines = []
        del buffer[:start]
        if len(self._replies) > self._expected or (
            len(self._replies) == self._expected and (buffer or self._lines)
        ):
            # More than was asked for: replies and commands no longer pair up.
            self._fail(SmtpProtocolError("the server sent more replies than commands"))
        elif len(self._replies) == self._expected:
            done.set_result(self._replies)
        elif len(buffer) > _MAX_REPLY_BYTES:
            self._fail(SmtpProtocolError("reply too long"))

    def _fail(self, error: Exception) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(error)
            # Retrieved here: a group given up on (timed out) must not log it as unhandled.
            self._done.exception()
        self._buffer.clear()
        self._lines = []

    def eof_received(self) -> bool | None:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        error = aiosmtplib.SMTPServerDisconnected("Connection lost")
        error.__cause__ = exc
        self._fail(error)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


async def _pipelined_transaction(
    replies: _Replies,
    *,
    sender: str,
    recipient: str,
    message: bytes,
    options: list[str],
    announce_size: bool,
    timeout: float,
) -> None:
    """One mail in two round trips (RFC 2920): MAIL, RCPT and DATA together, then the
    message. The same outcomes as aiosmtplib's ``sendmail``: a refused sender or recipient,
    or a DATA refusal, raise the same errors (and the caller resets the envelope)."""
    content, size = _wire_content(message)
    if announce_size:
        # RFC 1870: a server that takes SIZE refuses an oversized mail at MAIL already.
        options = [f"SIZE={size}", *options]
    parameters = "".join(f" {option}" for option in options)
    envelope = f"MAIL FROM:<{sender}>{parameters}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n"
    mail, rcpt, data = await replies.exchange(envelope.encode(), 3, timeout)
    refusal: aiosmtplib.SMTPResponseException | None = None
    if mail.code != 250:
        refusal = aiosmtplib.SMTPSenderRefused(mail.code, mail.message, sender)
    elif rcpt.code not in (250, 251):
        refusal = aiosmtplib.SMTPRecipientRefused(rcpt.code, rcpt.message, recipient)
    if refusal is not None:
        if data.code == 354:
            # A server that said yes to DATA without a recipient must get a message; an
            # empty one, which RFC 2920 (3.1) forbids it to deliver.
            await replies.exchange(b".\r\n", 1, timeout)
        raise refusal
    if data.code != 354:
        raise aiosmtplib.SMTPDataError(data.code, data.message)
    [accepted] = await replies.exchange(content, 1, timeout)
    if accepted.code != 250:
        raise aiosmtplib.SMTPDataError(accepted.code, accepted.message)


class SmtpConnection:
    """One sender's connection, kept open between mails to skip connect, EHLO and AUTH."""

    def __init__(self, *, idle_close_seconds: float = 30.0) -> None:
        self._client: aiosmtplib.SMTP | None = None
        self._replies: _Replies | None = None
        # The server's SIZE extension (RFC 1870), read once per connection, not per mail.
        self._announce_size = False
        self._config: SmtpConfig | None = None
        self._last_used = 0.0
        self._idle_close = idle_close_seconds

    @property
    def is_open(self) -> bool:
        return self._client is not None and self._client.is_connected

    @property
    def pipelining(self) -> bool:
        """Whether mails on this connection go out pipelined (the server offers it)."""
        return self._replies is not None

    async def send(self, config: SmtpConfig, message: bytes, *, recipient: str) -> None:
        """Send a composed message (see :mod:`notifications.email.compose`) to one address."""
        if config.problem:
            raise SmtpConfigurationError(config.problem)
        _check_address(config.envelope_sender)
        _check_address(recipient)
        reused = self._usable_for(config)
        if not reused:
            await self._open(config)
        try:
            await self._transaction(config, message, recipient)
        except aiosmtplib.SMTPServerDisconnected:
            await self.close()
            if not reused:
                raise
            # A kept-open connection may have been closed by the server while idle: that says
            # nothing about this mail, so try once more on a fresh connection.
            await self._open(config)
            await self._transaction(config, message, recipient)
        self._last_used = time.monotonic()

    def _usable_for(self, config: SmtpConfig) -> bool:
        return (
            self.is_open
            and self._config == config
            and time.monotonic() - self._last_used < self._idle_close
        )

    async def _transaction(self, config: SmtpConfig, message: bytes, recipient: str) -> None:
        client = self._client
        assert client is not None
        options = []
        if not (config.envelope_sender + recipient).isascii():
            if not client.supports_extension("smtputf8"):
                raise ValueError(
                    f"the server does not take non-ASCII addresses (SMTPUTF8): {recipient!r}"
                )
            options.append("SMTPUTF8")
        try:
            if self._replies is not None:
                await _pipelined_transaction(
                    self._replies,
                    sender=config.envelope_sender,
                    recipient=recipient,
                    message=message,
                    options=options,
                    announce_size=self._announce_size,
                    timeout=config.timeout,
                )
            else:
                await client.sendmail(
                    config.envelope_sender, [recipient], message, mail_options=options
                )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            # One recipient per mail: report its own refusal (code and text).
            await self._reset()
            raise refused.recipients[0] from None
        except aiosmtplib.SMTPResponseException:
            # Refused, but the conversation is intact: clear the envelope and go on.
            await self._reset()
            raise
        except aiosmtplib.SMTPServerDisconnected:
            raise
        except BaseException:
            # After a timeout or anything unexpected the session state is unknown.
            await self.close()
            raise

    async def _reset(self) -> None:
        assert self._client is not None
        try:
            await self._client.rset()
        except (aiosmtplib.SMTPException, OSError):
            await self.close()

    async def _open(self, config: SmtpConfig) -> None:
        await self.close()
        self._client = await _connect(config)
        self._config = config
        if self._client.supports_extension("pipelining"):
            self._replies = _Replies.install(self._client)
        self._announce_size = self._client.supports_extension("size")
        self._last_used = time.monotonic()

    async def close_if_idle(self) -> None:
        if self._client is not None and time.monotonic() - self._last_used >= self._idle_close:
            await self.close()

    async def close(self) -> None:
        client, self._client, self._config = self._client, None, None
        self._replies = None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit(timeout=2)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            client.close()


async def send_once(config: SmtpConfig, message: bytes, *, recipient: str) -> None:
    """Open, send one message and close: for an administrator's test mail."""
    connection = SmtpConnection()
    try:
        await connection.send(config, message, recipient=recipient)
    finally:
        await connection.close()
