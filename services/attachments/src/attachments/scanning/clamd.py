"""clamd's INSTREAM protocol over a plain non-blocking socket.

Not through ``aioclamd``: when clamd hits its StreamMaxLength it answers "INSTREAM size
limit exceeded" and closes the connection while the client is still sending, so the
client's next write fails with a connection reset. aioclamd then raises a bare
``ConnectionResetError`` (measured: 6 times out of 10 with a 2 MB file against a 1 MB
limit), the same as a clamd that died mid-scan. Here a failed send only ends the sending:
the reply clamd sent before closing is still in the socket's receive queue and is read
after, so a file over clamd's limit is reliably "too_large", and only a clamd that does not
answer is "unavailable". (Not over asyncio streams either: a transport whose write fails
closes at once, dropping a reply the event loop had not read yet; seen in CI.) It also takes
an async source (an object read back from S3) directly.

``timeout`` bounds each wait on clamd (connecting, taking a chunk, answering after the
last), not the whole scan: the source's own reading time is not clamd's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# clamd takes chunks of any size up to StreamMaxLength; 64 KiB keeps memory flat and
# measured as fast as 1 MiB.
CHUNK_BYTES = 64 * 1024
SIZE_LIMIT_REPLY = "INSTREAM size limit exceeded. ERROR"
END_OF_STREAM = struct.pack("!L", 0)


class ScannerUnavailable(Exception):
    """clamd could not be reached, did not answer in time, or answered with an error: the
    file's state is unknown and it should be scanned again later."""


@dataclass(frozen=True)
class ScanResult:
    status: Literal["clean", "infected", "too_large"]
    # The signature's name when infected ("Win.Test.EICAR_HDB-1" with the real database).
    signature: str | None = None


async def scan_file(
    path: Path, *, host: str, port: int, timeout: float, max_bytes: int
) -> ScanResult:
    """Scan a local file; one over ``max_bytes`` is "too_large" without being sent."""
    size = (await asyncio.to_thread(path.stat)).st_size
    if size > max_bytes:
        return ScanResult("too_large")
    async with contextlib.aclosing(_file_chunks(path)) as chunks:
        return await scan_stream(chunks, host=host, port=port, timeout=timeout, max_bytes=max_bytes)


async def scan_stream(
    chunks: AsyncIterator[bytes], *, host: str, port: int, timeout: float, max_bytes: int
) -> ScanResult:
    """Scan what ``chunks`` yields; once more than ``max_bytes`` came, the scan stops and
    the result is "too_large" (so is clamd's own StreamMaxLength). The caller closes
    ``chunks``: the scan may stop before reading all of it."""
    sock = await _open_socket(host, port, timeout)
    try:
        if not await _send_stream(sock, chunks, timeout=timeout, max_bytes=max_bytes):
            return ScanResult("too_large")
        line = await _read_reply(sock, timeout, host, port)
    finally:
        sock.close()
    return _parse_reply(line)


async def scanner_ready(*, host: str, port: int, timeout: float) -> bool:
    """Whether clamd answers PING (for readiness checks and the scan worker's retries)."""
    try:
        reader, writer = await _connect(host, port, timeout)
    except ScannerUnavailable:
        return False
    try:
        writer.write(b"nPING\n")
        await asyncio.wait_for(writer.drain(), timeout)
        return await asyncio.wait_for(reader.readline(), timeout) == b"PONG\n"
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _connect(
    host: str, port: int, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError as error:
        raise ScannerUnavailable(f"clamd at {host}:{port}: no connection in {timeout}s") from error
    except OSError as error:
        raise ScannerUnavailable(f"clamd at {host}:{port}: {error}") from error


async def _open_socket(host: str, port: int, timeout: float) -> socket.socket:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (host, port)), timeout)
    except TimeoutError as error:
        sock.close()
        raise ScannerUnavailable(f"clamd at {host}:{port}: no connection in {timeout}s") from error
    except OSError as error:
        sock.close()
        raise ScannerUnavailable(f"clamd at {host}:{port}: {error}") from error
    return sock


async def _send_stream(
    sock: socket.socket, chunks: AsyncIterator[bytes], *, timeout: float, max_bytes: int
) -> bool:
    """Send the INSTREAM command and the chunks; False when the source exceeded max_bytes.
    Stops early, without an error, when clamd closed the connection (its reply says why)."""
    loop = asyncio.get_running_loop()
    sent = 0

    async def send(data: bytes) -> None:
        try:
            await asyncio.wait_for(loop.sock_sendall(sock, data), timeout)
        except TimeoutError as error:
            raise ScannerUnavailable(f"clamd took no data for {timeout}s") from error

    try:
        await send(b"nINSTREAM\n")
        async for chunk in chunks:
            for start in range(0, len(chunk), CHUNK_BYTES):
                piece = chunk[start : start + CHUNK_BYTES]
                sent += len(piece)
                if sent > max_bytes:
                    return False
                await send(struct.pack("!L", len(piece)) + piece)
        await send(END_OF_STREAM)
    except ConnectionError:
        pass  # clamd closed the connection: its reply, if any, says why
    return True


async def _read_reply(sock: socket.socket, timeout: float, host: str, port: int) -> str:
    """clamd's one-line reply; what it sent before closing the connection counts."""
    loop = asyncio.get_running_loop()
    received = b""
    try:
        while b"\n" not in received:
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)
            if not data:
                break
            received += data
    except TimeoutError as error:
        raise ScannerUnavailable(f"clamd at {host}:{port}: no answer in {timeout}s") from error
    except OSError as error:
        if not received:
            raise ScannerUnavailable(f"clamd at {host}:{port}: {error!r}") from error
    if not received:
        raise ScannerUnavailable(f"clamd at {host}:{port} closed the connection without answer")
    return received.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()


def _parse_reply(line: str) -> ScanResult:
    # Replies: "stream: OK", "stream: <signature> FOUND", "<reason> ERROR".
    if line == SIZE_LIMIT_REPLY:
        return ScanResult("too_large")
    if line == "stream: OK":
        return ScanResult("clean")
    if line.startswith("stream: ") and line.endswith(" FOUND"):
        return ScanResult("infected", signature=line.removeprefix("stream: ")[: -len(" FOUND")])
    raise ScannerUnavailable(f"clamd answered: {line}")


async def _file_chunks(path: Path) -> AsyncGenerator[bytes, None]:
    file = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
            yield chunk
    finally:
        file.close()
