"""The IMAP side of a mailbox: the standard library's imaplib, each call run in a worker
thread (imaplib blocks), one connection per poll.

A processed message gets the keyword ``$HelpdeskProcessed`` and ``\\Seen``; the poller asks
only for messages without the keyword, so a mail is read again until it is marked (which
happens only after its ticket or comment and its log row are committed)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import imaplib
import re
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

PROCESSED = "$HelpdeskProcessed"
T = TypeVar("T")


class ImapError(Exception):
    """The mailbox could not be reached, signed into or read."""


def error_text(exc: BaseException) -> str:
    """An exception as an administrator reads it: imaplib raises the server's answer as
    bytes (``b'[AUTHENTICATIONFAILED] ...'``), decoded here."""
    parts = [
        arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg) for arg in exc.args
    ]
    return " ".join(parts) or type(exc).__name__


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    security: str  # ssl | starttls | none
    username: str
    password: str
    folder: str
    timeout: float = 30.0


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(response: tuple[str, Sequence[Any]], what: str) -> list[Any]:
    status, data = response
    if status != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
        raise ImapError(f"{what} failed: {detail or status}")
    return list(data)


class ImapSession:
    """A signed-in connection with the folder selected (blocking; use :func:`run`)."""

    def __init__(self, account: ImapAccount) -> None:
        self.account = account
        try:
            if account.security == "ssl":
                context = ssl.create_default_context()
                client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    account.host, account.port, ssl_context=context, timeout=account.timeout
                )
            else:
                client = imaplib.IMAP4(account.host, account.port, timeout=account.timeout)
                if account.security == "starttls":
                    client.starttls(ssl.create_default_context())
            self.client = client
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            raise ImapError(
                f"cannot connect to {account.host}:{account.port}: {error_text(exc)}"
            ) from exc
        try:
            _ok(client.login(account.username, account.password), "login")
            _ok(client.select(_quote(account.folder)), f"select {account.folder}")
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise ImapError(error_text(exc)) from exc
        except ImapError:
            self.close()
            raise

    def message_count(self) -> int:
        data = _ok(self.client.status(_quote(self.account.folder), "(MESSAGES)"), "status")
        match = re.search(rb"MESSAGES (\d+)", data[0] if isinstance(data[0], bytes) else b"")
        return int(match.group(1)) if match else 0

    def unprocessed(self, limit: int) -> list[int]:
        """UIDs of the messages not marked processed (nor deleted), oldest first."""
        try:
            data = _ok(self.client.uid("SEARCH", "UNKEYWORD", PROCESSED, "UNDELETED"), "search")
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapError(f"search failed: {error_text(exc)}") from exc
        raw = data[0] if data and isinstance(data[0], bytes) else b""
        return sorted(int(uid) for uid in raw.split())[:limit]

    def fetch(self, uid: int) -> bytes | None:
        """The message's bytes (without setting \\Seen), None when it is gone."""
        try:
            data = _ok(self.client.uid("FETCH", str(uid), "(BODY.PEEK[])"), "fetch")
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapError(f"fetch failed: {error_text(exc)}") from exc
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None

    def senders(self, uids: list[int]) -> dict[int, bytes]:
        """Each message's From header (raw), in one command: to group a batch by sender."""
        if not uids:
            return {}
        try:
            data = _ok(
                self.client.uid(
                    "FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[HEADER.FIELDS (FROM)])"
                ),
                "fetch",
            )
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapError(f"fetch failed: {error_text(exc)}") from exc
        found: dict[int, bytes] = {}
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                match = re.search(rb"UID (\d+)", item[0])
                if match:
                    found[int(match.group(1))] = item[1]
        return found

    def mark_processed(self, uid: int) -> None:
        try:
            _ok(
                self.client.uid("STORE", str(uid), "+FLAGS.SILENT", f"({PROCESSED} \\Seen)"),
                "store",
            )
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapError(f"store failed: {error_text(exc)}") from exc

    def close(self) -> None:
        with contextlib.suppress(TimeoutError, OSError, imaplib.IMAP4.error):
            self.client.logout()


# IMAP calls block (a silent server holds one until the timeout): they get threads of their
# own, so that many slow mailboxes cannot take the event loop's default executor, which
# name resolution (the outbound webhooks' checks) and others use.
_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="imap")


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on one of the IMAP threads."""
    return await asyncio.get_running_loop().run_in_executor(_THREADS, functools.partial(fn, *args))


async def open_session(account: ImapAccount) -> ImapSession:
    return await in_thread(ImapSession, account)
