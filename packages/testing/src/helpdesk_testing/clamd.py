"""A real ClamAV daemon (Debian's ``clamd``, installed by ``scripts/test``) for tests.

It runs offline with one local signature that detects only the EICAR test string (as
``Local.Test.EICAR.UNOFFICIAL``), also inside archives: clamd refuses to start without any
signature, and the real database is neither downloadable here nor needed to test the wiring.
A test can stop it and start it again on the same port ("the scanner is down, then returns").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from helpdesk_testing.net import first_line, free_port

CLAMD = Path("/usr/sbin/clamd")
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# MD5 and size of the EICAR string: a hash signature matches the whole file (or archive member).
EICAR_SIGNATURE = "44d88612fea8a8f36de82e1278abb02f:68:Local.Test.EICAR\n"


class ClamdProcess:
    """One clamd on a loopback port, with its signature, configuration and log in
    ``directory``. ``start``/``stop`` may be called again and again; the port stays."""

    host = "127.0.0.1"

    def __init__(self, directory: Path, *, port: int | None = None, stream_max_bytes: int) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.stream_max_bytes = stream_max_bytes
        self.config_file = directory / "clamd.conf"
        self.output_file = directory / "clamd.out"
        self._process: asyncio.subprocess.Process | None = None
        self._write_files()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, *, timeout: float = 30) -> None:
        """Start clamd and return once it answers PING (it loads its signature first)."""
        if self.running:
            return
        # clamd writes its log to stdout too (Foreground), and errors that stop it before the
        # log file is open (a bad option, the port taken) only to stderr: keep both.
        with self.output_file.open("ab") as output:
            self._process = await asyncio.create_subprocess_exec(
                str(CLAMD),
                f"--config-file={self.config_file}",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )
        try:
            await self._wait_ready(timeout)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Terminate clamd and wait for it; after this, connections are refused."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def ping(self) -> bool:
        return await first_line(self.host, self.port, send=b"nPING\n") == b"PONG\n"

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not await self.ping():
            assert self._process is not None
            if self._process.returncode is not None:
                raise RuntimeError(
                    f"clamd exited with code {self._process.returncode}:\n{self._output_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"clamd did not answer within {timeout:.0f}s:\n{self._output_tail()}"
                )
            await asyncio.sleep(0.1)

    def _output_tail(self) -> str:
        lines = self.output_file.read_text(errors="replace").splitlines()
        return "\n".join(lines[-30:])

    def _write_files(self) -> None:
        database = self.directory / "db"
        temporary = self.directory / "tmp"
        database.mkdir(parents=True, exist_ok=True)
        temporary.mkdir(exist_ok=True)
        (database / "local.hdb").write_text(EICAR_SIGNATURE)
        # No ``User``: clamd then keeps the test runner's user (root or not). Debian's own
        # configuration drops to "clamav", which could not read a private pytest directory.
        # The scan limits sit above StreamMaxLength so that the stream limit is the one hit.
        options = {
            "Foreground": "yes",
            "TCPSocket": str(self.port),
            "TCPAddr": self.host,
            "DatabaseDirectory": str(database),
            "TemporaryDirectory": str(temporary),
            "LogFile": str(self.directory / "clamd.log"),
            "LogTime": "yes",
            "PidFile": str(self.directory / "clamd.pid"),
            "StreamMaxLength": str(self.stream_max_bytes),
            "MaxFileSize": str(self.stream_max_bytes * 2),
            "MaxScanSize": str(self.stream_max_bytes * 4),
            "ConcurrentDatabaseReload": "no",
        }
        self.config_file.write_text("".join(f"{key} {value}\n" for key, value in options.items()))


async def start_clamd(
    directory: Path, *, port: int | None = None, stream_max_bytes: int = 25 * 1024 * 1024
) -> ClamdProcess:
    """Start a clamd in ``directory`` (created if missing); the caller stops it."""
    clamd = ClamdProcess(directory, port=port, stream_max_bytes=stream_max_bytes)
    await clamd.start()
    return clamd


@contextlib.asynccontextmanager
async def running_clamd(
    directory: Path, *, port: int | None = None, stream_max_bytes: int = 25 * 1024 * 1024
) -> AsyncIterator[ClamdProcess]:
    """A clamd for the block's duration."""
    clamd = await start_clamd(directory, port=port, stream_max_bytes=stream_max_bytes)
    try:
        yield clamd
    finally:
        await clamd.stop()
