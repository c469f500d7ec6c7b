"""Scanning against a real clamd (``helpdesk_testing``'s, with the one EICAR signature)."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from attachments.scanning import (
    ScannerUnavailable,
    ScanResult,
    scan_file,
    scan_stream,
    scanner_ready,
)
from attachments.scanning.clamd import _parse_reply
from helpdesk_testing.clamd import EICAR, ClamdProcess, running_clamd

MB = 1024 * 1024
TIMEOUT = 5.0


async def scan(path: Path, clamd: ClamdProcess, *, max_bytes: int = 25 * MB) -> ScanResult:
    return await scan_file(
        path, host=clamd.host, port=clamd.port, timeout=TIMEOUT, max_bytes=max_bytes
    )


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def test_a_clean_text_file_is_clean(clamd: ClamdProcess, tmp_path: Path) -> None:
    path = write(tmp_path / "note.txt", b"Laporan gangguan jaringan di kantor kecamatan.\n")
    assert await scan(path, clamd) == ScanResult("clean")


async def test_the_eicar_file_is_infected(clamd: ClamdProcess, tmp_path: Path) -> None:
    result = await scan(write(tmp_path / "eicar.com", EICAR), clamd)
    assert result.status == "infected"
    assert result.signature is not None and "EICAR" in result.signature


async def test_eicar_inside_a_zip_is_infected(clamd: ClamdProcess, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", "nothing here\n")
        archive.writestr("tools/eicar.com", EICAR)
    result = await scan(write(tmp_path / "bundle.zip", buffer.getvalue()), clamd)
    assert result.status == "infected"
    assert result.signature is not None and "EICAR" in result.signature


async def test_eicar_inside_a_7z_is_infected(clamd: ClamdProcess, tmp_path: Path) -> None:
    tool = shutil.which("7z") or shutil.which("7za") or shutil.which("7zr")
    if tool is None:
        pytest.skip("no 7z tool to build the archive with")
    write(tmp_path / "eicar.com", EICAR)
    packer = await asyncio.create_subprocess_exec(
        tool, "a", "-t7z", "bundle.7z", "eicar.com", cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL
    )
    assert await packer.wait() == 0
    result = await scan(tmp_path / "bundle.7z", clamd)
    assert result.status == "infected"


async def test_a_file_over_max_bytes_is_too_large_without_clamd(tmp_path: Path) -> None:
    path = write(tmp_path / "big.bin", b"x" * (MB + 1))
    # Port 1 has no clamd: the size alone decides, nothing is sent.
    result = await scan_file(path, host="127.0.0.1", port=1, timeout=TIMEOUT, max_bytes=MB)
    assert result == ScanResult("too_large")


async def test_clamds_own_stream_limit_is_too_large(tmp_path: Path) -> None:
    path = write(tmp_path / "two.bin", os.urandom(2 * MB))
    async with running_clamd(tmp_path / "clamd", stream_max_bytes=MB) as small:
        for _ in range(5):  # clamd resets the connection mid-send: a race, so more than once
            assert await scan(path, small, max_bytes=25 * MB) == ScanResult("too_large")
        # Below its limit the same clamd still scans.
        assert await scan(write(tmp_path / "eicar.com", EICAR), small) == ScanResult(
            "infected", "Local.Test.EICAR.UNOFFICIAL"
        )


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


async def test_a_stream_is_scanned_across_chunks(clamd: ClamdProcess) -> None:
    # EICAR split over chunks, with an empty chunk that must not end the stream early.
    parts = (EICAR[:10], b"", EICAR[10:40], EICAR[40:])
    result = await scan_stream(
        chunks_of(*parts), host=clamd.host, port=clamd.port, timeout=TIMEOUT, max_bytes=MB
    )
    assert result == ScanResult("infected", "Local.Test.EICAR.UNOFFICIAL")
    clean = await scan_stream(
        chunks_of(b"a" * MB, b"b" * MB), host=clamd.host, port=clamd.port, timeout=TIMEOUT,
        max_bytes=2 * MB,
    )  # fmt: skip
    assert clean == ScanResult("clean")


async def test_a_stream_over_max_bytes_is_too_large(clamd: ClamdProcess) -> None:
    result = await scan_stream(
        chunks_of(b"a" * MB, b"b"), host=clamd.host, port=clamd.port, timeout=TIMEOUT,
        max_bytes=MB,
    )  # fmt: skip
    assert result == ScanResult("too_large")


async def test_the_scanner_down_then_back(clamd: ClamdProcess, tmp_path: Path) -> None:
    path = write(tmp_path / "note.txt", b"hello\n")
    assert await scanner_ready(host=clamd.host, port=clamd.port, timeout=TIMEOUT)
    await clamd.stop()
    try:
        started = time.monotonic()
        with pytest.raises(ScannerUnavailable):
            await scan(path, clamd)
        assert time.monotonic() - started < TIMEOUT + 1
        assert not await scanner_ready(host=clamd.host, port=clamd.port, timeout=TIMEOUT)
    finally:
        await clamd.start()
    assert await scanner_ready(host=clamd.host, port=clamd.port, timeout=TIMEOUT)
    assert await scan(path, clamd) == ScanResult("clean")


async def test_ten_megabytes_scan_quickly(clamd: ClamdProcess, tmp_path: Path) -> None:
    path = write(tmp_path / "ten.bin", os.urandom(10 * MB))
    started = time.monotonic()
    assert await scan(path, clamd) == ScanResult("clean")
    elapsed = time.monotonic() - started
    print(f"10 MB scanned in {elapsed:.3f}s")
    assert elapsed < 5  # measured ~0.1 s; a regression to 1 KiB chunks in threads took ~1 s


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("stream: OK", ScanResult("clean")),
        ("stream: Win.Test.EICAR_HDB-1 FOUND", ScanResult("infected", "Win.Test.EICAR_HDB-1")),
        ("INSTREAM size limit exceeded. ERROR", ScanResult("too_large")),
    ],
)
def test_replies(reply: str, expected: ScanResult) -> None:
    assert _parse_reply(reply) == expected


def test_an_error_reply_means_unavailable() -> None:
    with pytest.raises(ScannerUnavailable, match="Can't allocate memory"):
        _parse_reply("Can't allocate memory ERROR")
