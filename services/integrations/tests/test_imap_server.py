"""The private Dovecot of helpdesk_testing.imap, which the mail-intake tests poll: messages
appended through it are read back by a plain imaplib client, flags set by that client are
seen by the helper, and a stopped server refuses connections and returns with its mail."""

from __future__ import annotations

import asyncio
import imaplib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpdesk_testing.imap import ImapServer, reachable_by_others, running_imap

MESSAGE = (
    b"From: Budi <budi@example.com>\r\n"
    b"To: helpdesk@example.com\r\n"
    b"Subject: Printer rusak\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"\r\n"
    b"Printer di lantai 2 tidak bisa mencetak.\r\n"
)


def new_user(server: ImapServer) -> tuple[str, str]:
    name, password = f"{uuid.uuid4().hex[:12]}@example.com", uuid.uuid4().hex
    server.add_user(name, password)
    return name, password


def read_with_imaplib(server: ImapServer, user: str, password: str) -> list[tuple[int, bytes]]:
    """What any IMAP client sees: log in, select INBOX, fetch every message."""
    client = imaplib.IMAP4(server.host, server.port, timeout=10)
    try:
        assert client.login(user, password)[0] == "OK"
        assert client.select("INBOX")[0] == "OK"
        typ, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
        assert typ == "OK"
        found = []
        for item in data:
            if isinstance(item, tuple):
                uid = int(item[0].split(b"UID ")[1].split()[0].rstrip(b")"))
                found.append((uid, item[1]))
        return found
    finally:
        client.logout()


async def test_append_then_read_back_with_imaplib(imap_server: ImapServer) -> None:
    user, password = new_user(imap_server)
    assert await imap_server.count(user) == 0
    uid = await imap_server.append(user, MESSAGE)
    second = await imap_server.append(user, MESSAGE.replace(b"m1@", b"m2@"), flags=["\\Seen"])

    found = await asyncio.to_thread(read_with_imaplib, imap_server, user, password)

    assert found == [(uid, MESSAGE), (second, MESSAGE.replace(b"m1@", b"m2@"))]
    assert await imap_server.count(user) == 2
    assert await imap_server.flags(user) == {uid: set(), second: {"\\Seen"}}
    assert await imap_server.messages(user) == dict(found)


async def test_flags_set_by_a_client_are_seen(imap_server: ImapServer) -> None:
    user, password = new_user(imap_server)
    uid = await imap_server.append(user, MESSAGE)

    def mark() -> None:
        client = imaplib.IMAP4(imap_server.host, imap_server.port, timeout=10)
        try:
            client.login(user, password)
            client.select("INBOX")
            typ, _ = client.uid("STORE", str(uid), "+FLAGS", "(\\Seen $HelpdeskProcessed)")
            assert typ == "OK"
        finally:
            client.logout()

    await asyncio.to_thread(mark)

    assert await imap_server.flags(user) == {uid: {"\\Seen", "$HelpdeskProcessed"}}


async def test_folders_are_separate_and_users_too(imap_server: ImapServer) -> None:
    user, _ = new_user(imap_server)
    other, _ = new_user(imap_server)
    await imap_server.append(user, MESSAGE, folder="Helpdesk")

    assert await imap_server.count(user, "Helpdesk") == 1
    assert await imap_server.count(user) == 0
    assert await imap_server.count(other) == 0


async def test_a_wrong_password_is_refused(imap_server: ImapServer) -> None:
    user, _ = new_user(imap_server)

    def login() -> None:
        client = imaplib.IMAP4(imap_server.host, imap_server.port, timeout=10)
        try:
            client.login(user, "not-the-password")
        finally:
            client.shutdown()

    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        await asyncio.to_thread(login)


async def test_a_password_change_applies_while_running(imap_server: ImapServer) -> None:
    user, old = new_user(imap_server)
    imap_server.add_user(user, "changed-password")

    assert await asyncio.to_thread(read_with_imaplib, imap_server, user, "changed-password") == []
    with pytest.raises(imaplib.IMAP4.error):
        await asyncio.to_thread(read_with_imaplib, imap_server, user, old)


def test_unsafe_names_and_passwords_are_refused(imap_server: ImapServer) -> None:
    with pytest.raises(ValueError):
        imap_server.add_user("bad:name", "secret")
    with pytest.raises(ValueError):
        imap_server.add_user("someone@example.com", "with:colon")


async def test_stop_refuses_connections_and_start_brings_the_mail_back(tmp_path: Path) -> None:
    async with running_imap(tmp_path) as server:
        user, password = new_user(server)
        uid = await server.append(user, MESSAGE)
        port = server.port

        await server.stop()

        assert not server.running
        assert not await server.greets()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(server.host, server.port)

        await server.start()

        assert server.port == port
        found = await asyncio.to_thread(read_with_imaplib, server, user, password)
        assert found == [(uid, MESSAGE)]
    assert not server.runtime_dir.exists()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory other users can get through (as root, Dovecot's mail user is nobody)."""
    shared = Path(tempfile.mkdtemp(prefix="helpdesk-imap-test-"))
    shared.chmod(0o755)
    yield shared
    shutil.rmtree(shared, ignore_errors=True)


async def test_a_given_mail_dir_keeps_the_mail_for_the_next_server(
    tmp_path: Path, shared_dir: Path
) -> None:
    """As deploy/local/up.py keeps the local mailbox in its state folder."""
    async with running_imap(tmp_path / "first", mail_dir=shared_dir / "mail") as first:
        first.add_user("helpdesk@localhost", "secret-1")
        uid = await first.append("helpdesk@localhost", MESSAGE)
    async with running_imap(tmp_path / "second", mail_dir=shared_dir / "mail") as second:
        second.add_user("helpdesk@localhost", "secret-1")
        assert await second.messages("helpdesk@localhost") == {uid: MESSAGE}


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the maildirs to another user")
def test_as_root_a_mail_dir_out_of_the_mail_users_reach_is_refused(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    assert not reachable_by_others(private / "mail")
    with pytest.raises(ValueError, match="cannot reach"):
        ImapServer(tmp_path / "server", mail_dir=private / "mail")
