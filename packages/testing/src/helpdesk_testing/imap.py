"""A real IMAP server (Debian's Dovecot 2.3, installed by ``scripts/test``) for tests and for
the local system (``deploy/local/up.py``).

Each server is a private ``dovecot -F -c <config>`` process: its own configuration, users
(a passwd-file), maildirs, runtime directory, log and loopback port. No system service is
started or changed. Plaintext login without TLS is allowed, on loopback only.

    async with running_imap(tmp_path) as server:
        server.add_user("helpdesk@example.com", "secret")
        await server.append("helpdesk@example.com", raw_message)
        flags = await server.flags("helpdesk@example.com")   # {uid: {"\\Seen", ...}}
        await server.stop()    # connections now refused: "the mailbox is unreachable"
        await server.start()   # back, same port, same mail

Dovecot runs as root or as a normal user (CI runs as root). As root, its login processes run
as ``dovenull`` and its mail processes as ``nobody`` (Dovecot refuses mail access as root);
as a normal user, everything runs as that user. The runtime directory and the maildirs live
in a short directory of their own under the system's temporary directory (unix socket paths
are limited to 108 bytes, and a pytest directory is private to the test runner's user);
``close()`` (or leaving ``running_imap``) removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path

from helpdesk_testing.net import first_line, free_port

DOVECOT = Path("/usr/sbin/dovecot")

# A user name or folder name this helper writes into the configuration or the passwd-file.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._@+-]{1,200}$")
_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_UID = re.compile(rb"UID (\d+)")


def dovecot_installed() -> bool:
    """Dovecot with its IMAP service (Debian's dovecot-imapd; scripts/lib.sh ensure_dovecot)."""
    return DOVECOT.exists() and Path("/usr/lib/dovecot/imap-login").exists()


class ImapServer:
    """One Dovecot on a loopback port. ``start``/``stop`` may be called again and again; the
    port, the users and the mail stay. Files: ``directory`` holds ``dovecot.conf``,
    ``users/`` (a passwd-file per user), ``dovecot.log`` (Dovecot's own log) and
    ``dovecot.out`` (its stderr)."""

    host = "127.0.0.1"

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        mail_dir: Path | None = None,
        log_file: Path | None = None,
    ) -> None:
        """``mail_dir``: where the maildirs are kept (by default in the runtime directory,
        removed by ``close()``); as root it must be reachable by ``nobody`` (see
        ``reachable_by_others``). ``log_file``: Dovecot's log (``/dev/stderr`` works)."""
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.config_file = directory / "dovecot.conf"
        self.users_dir = directory / "users"
        self.log_file = log_file or directory / "dovecot.log"
        self.output_file = directory / "dovecot.out"
        # Short, world-traversable: the login processes (dovenull) reach their sockets here,
        # the mail processes (nobody when root) their maildirs.
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="helpdesk-imap-"))
        self.runtime_dir.chmod(0o755)
        self.base_dir = self.runtime_dir / "run"
        self.mail_dir = mail_dir or self.runtime_dir / "mail"
        self._passwords: dict[str, str] = {}
        self._process: asyncio.subprocess.Process | None = None
        try:
            self._write_files()
        except BaseException:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
            raise

    # -- process -------------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        """The command line that runs this Dovecot in the foreground (for a supervisor of
        its own, as deploy/local/up.py; ``start()`` runs it too)."""
        return [str(DOVECOT), "-F", "-c", str(self.config_file)]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, *, timeout: float = 30) -> None:
        """Start Dovecot and return once it greets an IMAP client on its port."""
        if self.running:
            return
        if not dovecot_installed():
            raise RuntimeError(
                "Dovecot's IMAP server is not installed: scripts/test installs it "
                "(apt-get install dovecot-imapd; scripts/lib.sh ensure_dovecot)"
            )
        with self.output_file.open("ab") as output:
            self._process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=_stop_with_parent,
            )
        try:
            await self._wait_ready(timeout)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop Dovecot (its open IMAP connections are closed) and wait until it is gone;
        after this, connections to the port are refused."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def close(self) -> None:
        """Stop Dovecot and remove its runtime directory (with the maildirs, unless they
        were given as ``mail_dir``)."""
        await self.stop()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    async def greets(self) -> bool:
        """Whether the server answers a connection with an IMAP greeting."""
        line = await first_line(self.host, self.port)
        return line is not None and line.startswith(b"* OK")

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not await self.greets():
            assert self._process is not None
            if self._process.returncode is not None:
                raise RuntimeError(
                    f"dovecot exited with code {self._process.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"dovecot did not greet within {timeout:.0f}s:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        """The end of Dovecot's log and stderr, for error messages."""
        text = ""
        for path in (self.output_file, self.log_file):
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- users ---------------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Add a mailbox user (or change their password: that takes up to ~1 s); works while
        Dovecot runs."""
        if not _SAFE_NAME.match(name):
            raise ValueError(f"unsupported IMAP user name: {name!r}")
        if not password or any(ch in password for ch in ":\n\r\t"):
            raise ValueError("an IMAP password must be non-empty without ':' or line breaks")
        self._passwords[name] = password
        if self._write_user(name):
            # A changed password: Dovecot may have looked at the file this very second and
            # looks again in the next one.
            time.sleep(int(time.time()) + 1.05 - time.time())

    def password(self, name: str) -> str:
        return self._passwords[name]

    # -- mail, through IMAP as the user ----------------------------------------------------

    async def append(
        self,
        user: str,
        raw: bytes,
        folder: str = "INBOX",
        flags: Iterable[str] = (),
    ) -> int:
        """APPEND ``raw`` (an RFC 5322 message) to ``folder`` (created when missing) as
        ``user``; returns the message's UID."""
        return await asyncio.to_thread(self._append, user, raw, folder, tuple(flags))

    async def flags(self, user: str, folder: str = "INBOX") -> dict[int, set[str]]:
        """The flags and keywords of every message in ``folder``, by UID."""
        return await asyncio.to_thread(self._flags, user, folder)

    async def count(self, user: str, folder: str = "INBOX") -> int:
        """How many messages ``folder`` holds."""
        return await asyncio.to_thread(self._count, user, folder)

    async def messages(self, user: str, folder: str = "INBOX") -> dict[int, bytes]:
        """Every message of ``folder`` (raw bytes), by UID, without setting \\Seen."""
        return await asyncio.to_thread(self._messages, user, folder)

    async def create_folder(self, user: str, folder: str) -> None:
        await asyncio.to_thread(self._create_folder, user, folder)

    def connect(self, user: str) -> imaplib.IMAP4:
        """A logged-in imaplib client (blocking; the caller logs out)."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            _check(client.login(user, self._passwords[user]), "LOGIN")
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    @contextlib.contextmanager
    def _session(self, user: str) -> Iterator[imaplib.IMAP4]:
        client = self.connect(user)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def _append(self, user: str, raw: bytes, folder: str, flags: tuple[str, ...]) -> int:
        with self._session(user) as client:
            self._ensure_folder(client, folder)
            flag_list = f"({' '.join(flags)})" if flags else None
            typ, data = client.append(_quote(folder), flag_list, None, raw)
            _check((typ, data), "APPEND")
            # Dovecot answers [APPENDUID <uidvalidity> <uid>] (UIDPLUS).
            match = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            if match is None:
                raise RuntimeError(f"APPEND gave no APPENDUID: {data!r}")
            return int(match.group(1))

    def _flags(self, user: str, folder: str) -> dict[int, set[str]]:
        with self._session(user) as client:
            _check(client.select(_quote(folder), readonly=True), "SELECT")
            typ, data = client.uid("FETCH", "1:*", "(UID FLAGS)")
            _check((typ, data), "FETCH")
            result: dict[int, set[str]] = {}
            for item in data:
                line = item[0] if isinstance(item, tuple) else item
                if not isinstance(line, bytes):
                    continue
                uid, found = _UID.search(line), _FLAGS.search(line)
                if uid is not None and found is not None:
                    # \\Recent belongs to a session, not to the message: left out.
                    flags = set(found.group(1).decode().split()) - {"\\Recent"}
                    result[int(uid.group(1))] = flags
            return result

    def _count(self, user: str, folder: str) -> int:
        with self._session(user) as client:
            typ, data = client.select(_quote(folder), readonly=True)
            _check((typ, data), "SELECT")
            return int(data[0] or b"0")

    def _messages(self, user: str, folder: str) -> dict[int, bytes]:
        with self._session(user) as client:
            _check(client.select(_quote(folder), readonly=True), "SELECT")
            typ, data = client.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
            _check((typ, data), "FETCH")
            result: dict[int, bytes] = {}
            for item in data:
                if isinstance(item, tuple) and (uid := _UID.search(item[0])) is not None:
                    result[int(uid.group(1))] = item[1]
            return result

    def _create_folder(self, user: str, folder: str) -> None:
        with self._session(user) as client:
            self._ensure_folder(client, folder)

    @staticmethod
    def _ensure_folder(client: imaplib.IMAP4, folder: str) -> None:
        if folder.upper() == "INBOX":
            return
        typ, data = client.create(_quote(folder))
        # An existing folder answers NO [ALREADYEXISTS].
        if typ != "OK" and b"ALREADYEXISTS" not in (data[0] or b""):
            _check((typ, data), "CREATE")

    # -- files ---------------------------------------------------------------------------

    def _write_user(self, name: str) -> bool:
        """Write ``name``'s passwd-file; whether it replaced an existing one."""
        # One passwd-file per user: Dovecot looks at a file at most once a second, so a user
        # added to a shared file just after a login could stay unknown for up to a second;
        # a new user's file is read at its first login.
        # passwd-file fields: user:password:uid:gid:(gecos):home:(shell):extra fields
        path = self.users_dir / name
        previous = int(path.stat().st_mtime) if path.exists() else None
        temporary = self.users_dir / f".{name}.new"
        temporary.write_text(f"{name}:{{PLAIN}}{self._passwords[name]}::::::\n")
        if previous is not None:
            # Dovecot re-reads a file when its mtime (whole seconds) or size changes: a
            # changed password of the same length within a second would look unchanged.
            stamp = max(int(time.time()), previous + 1)
            os.utime(temporary, (stamp, stamp))
        temporary.replace(path)
        return previous is not None

    def _write_files(self) -> None:
        self.base_dir.mkdir(exist_ok=True)
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.users_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            internal_user, internal_group = "root", "root"
            login_user = "dovenull"
            mail_user = "nobody"
            mail_group = grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
            mail_entry = pwd.getpwnam(mail_user)
            if not reachable_by_others(self.mail_dir):
                raise ValueError(
                    f"{self.mail_dir}: Dovecot's mail processes (user {mail_user}) cannot "
                    "reach it; give a mail_dir whose parents are all o+x"
                )
            os.chown(self.mail_dir, mail_entry.pw_uid, mail_entry.pw_gid)
            login_chroot, anvil_chroot = "login", "empty"
        else:
            me = pwd.getpwuid(os.geteuid())
            internal_user = login_user = mail_user = me.pw_name
            internal_group = mail_group = grp.getgrgid(os.getegid()).gr_name
            # Only root may chroot (imap-login into "login", anvil into "empty").
            login_chroot = anvil_chroot = ""
        config = f"""# A private Dovecot for tests / the local system (helpdesk_testing.imap).
protocols = imap
listen = {self.host}
base_dir = {self.base_dir}
state_dir = {self.runtime_dir / "state"}
instance_name = helpdesk-imap-{self.port}
log_path = {self.log_file}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# No delay after a failed login, and no growing penalty for the address that failed (see
# service anvil): the tests log in with wrong passwords on purpose, all from 127.0.0.1.
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
mail_uid = {mail_user}
mail_gid = {mail_group}
mail_location = maildir:~/Maildir
mail_home = {self.mail_dir}/%u
mailbox_list_index = no
protocol imap {{
  mail_max_userip_connections = 1000
}}
service imap-login {{
  chroot = {login_chroot}
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot = {anvil_chroot}
  # Mode 0: no authentication penalty (Dovecot's documented switch).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  user = {internal_user}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.users_dir}/%u
}}
"""
        self.config_file.write_text(config)


def _stop_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies (a test run
    killed outright leaves no Dovecot holding a port)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def reachable_by_others(path: Path) -> bool:
    """Whether every directory down to ``path`` lets other users through (o+x): as root,
    Dovecot's mail processes run as ``nobody`` and must reach the maildirs."""
    path = path.resolve()
    for directory in [*reversed(path.parents), path]:
        if directory.exists() and not directory.stat().st_mode & 0o001:
            return False
    return True


def _quote(folder: str) -> str:
    if not _SAFE_NAME.match(folder.replace(" ", "_").replace("/", "_")):
        raise ValueError(f"unsupported folder name: {folder!r}")
    return f'"{folder}"'


def _check(response: tuple[str, Sequence[object]], command: str) -> None:
    typ, data = response
    if typ != "OK":
        raise RuntimeError(f"IMAP {command} failed: {typ} {data!r}")


async def start_imap(
    directory: Path, *, port: int | None = None, mail_dir: Path | None = None
) -> ImapServer:
    """Start a Dovecot with its files in ``directory`` (created if missing); the caller
    closes it (``await server.close()``)."""
    server = ImapServer(directory, port=port, mail_dir=mail_dir)
    try:
        await server.start()
    except BaseException:
        await server.close()
        raise
    return server


@contextlib.asynccontextmanager
async def running_imap(
    directory: Path, *, port: int | None = None, mail_dir: Path | None = None
) -> AsyncIterator[ImapServer]:
    """A Dovecot for the block's duration."""
    server = await start_imap(directory, port=port, mail_dir=mail_dir)
    try:
        yield server
    finally:
        await server.close()
