"""Sending over SMTP with aiosmtplib, on connections kept open between mails.

The sender hands mails to the server over a few long-lived connections (one per send
worker), so connect, EHLO, STARTTLS and AUTH happen once per connection, not once per mail.
Each mail is one ``sendmail`` on that connection.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time

import aiosmtplib

from notifications.settings_admin.service import SmtpConfig

# An address goes into a command line: nothing that could end or extend the command.
_UNSAFE_ADDRESS = re.compile(r"[\x00-\x20\x7f<>]")

# aiosmtplib's errors, re-exported under the names the rest of the service uses.
SmtpTimeout = aiosmtplib.SMTPTimeoutError
SmtpRecipientRefused = aiosmtplib.SMTPRecipientRefused


class SmtpConfigurationError(Exception):
    """The SMTP settings cannot be used as they are (the administrator must fix them)."""


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
    return client


class SmtpConnection:
    """One sender's connection, kept open between mails to skip connect, EHLO and AUTH."""

    def __init__(self, *, idle_close_seconds: float = 30.0) -> None:
        self._client: aiosmtplib.SMTP | None = None
        self._config: SmtpConfig | None = None
        self._last_used = 0.0
        self._idle_close = idle_close_seconds

    @property
    def is_open(self) -> bool:
        return self._client is not None and self._client.is_connected

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
        self._last_used = time.monotonic()

    async def close_if_idle(self) -> None:
        if self._client is not None and time.monotonic() - self._last_used >= self._idle_close:
            await self.close()

    async def close(self) -> None:
        client, self._client, self._config = self._client, None, None
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
