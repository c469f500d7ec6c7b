"""Looking inside zip containers (plain zip, OOXML, ODF) before they are accepted.

Refusals, all with ``field="file"``:

- 415 ``UnsupportedType``: ``archive_too_many_entries``, ``archive_bomb`` (declared or real
  uncompressed size, or compression ratio, over the limit), ``archive_executable`` (an entry
  that is a program, by content or by name), ``archive_encrypted`` (cannot be looked into),
  ``archive_too_deep`` (zips nested deeper than ``max_depth``), ``archive_unsupported``
  (a compression method this Python cannot decompress, so it cannot be inspected);
- 422 ``InvalidInput``: ``archive_invalid`` (not a readable zip: corrupt, truncated, a CRC
  mismatch).

Nothing is ever extracted to a path named by the archive: entries are read as streams, and
a nested zip is spooled to an anonymous temporary file (in memory while small).
"""

from __future__ import annotations

import lzma
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from attachments.content.types import detect_buffer
from helpdesk_common.errors import DomainError, InvalidInput, UnsupportedType

# Media types of programs, as libmagic names them (current and older spellings).
HEADERLESS_GUESS = "DOS executable (COM"
EXECUTABLE_MEDIA_TYPES = frozenset(
    {
        "application/x-dosexec",
        "application/vnd.microsoft.portable-executable",
        "application/x-msdownload",
        "application/x-executable",
        "application/x-pie-executable",
        "application/x-sharedlib",
        "application/x-elf",
        "application/x-mach-binary",
        "application/x-msi",
        "application/java-archive",
        "application/x-java-applet",
        "application/vnd.android.package-archive",
        "application/x-ms-shortcut",
        "text/x-shellscript",
        "text/x-msdos-batch",
    }
)

DANGEROUS_EXTENSIONS = frozenset(
    {
        ".exe", ".dll", ".scr", ".com", ".bat", ".cmd", ".ps1", ".vbs",
        ".js", ".jar", ".msi", ".sh", ".apk", ".lnk",
    }
)  # fmt: skip

SNIFF_BYTES = 8 * 1024
_CHUNK = 64 * 1024
# Small entries compress extremely well without being bombs (a few KB of spaces in an XML
# part): ratios count only past this many uncompressed bytes.
RATIO_GRACE_BYTES = 1024 * 1024
# A nested zip up to this size is spooled in memory, beyond it to an anonymous temp file.
_SPOOL_IN_MEMORY = 8 * 1024 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
# What zipfile and its decompressors raise on a damaged archive (a CRC mismatch included).
_CORRUPT = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, struct.error, ValueError)
_ENCRYPTED = 0x1 | 0x40  # traditional (ZipCrypto / AES) and strong encryption flags


@dataclass
class _Budget:
    """The limits, shared by an archive and every archive nested in it."""

    max_entries: int
    max_total: int
    max_ratio: float
    max_depth: int
    entries: int = 0
    uncompressed: int = 0


def inspect_archive(
    path: Path,
    *,
    max_entries: int = 1000,
    max_total_uncompressed: int = 200 * 1024 * 1024,
    max_ratio: float = 100.0,
    max_depth: int = 2,
) -> None:
    """Refuse a zip container that is a bomb, hides a program, or cannot be inspected.

    Limits count over the whole tree (entries and uncompressed bytes of nested zips add up).
    ``max_depth`` is how many zips may be nested in the upload: with 2, upload.zip holding
    a.zip holding b.zip is inspected; a zip inside b.zip is refused (``archive_too_deep``).
    """
    budget = _Budget(max_entries, max_total_uncompressed, max_ratio, max_depth)
    with path.open("rb") as stream:
        _inspect(stream, size=path.stat().st_size, depth=0, label=path.name, budget=budget)


def _inspect(stream: IO[bytes], *, size: int, depth: int, label: str, budget: _Budget) -> None:
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            _check_declared(infos, size=size, label=label, budget=budget)
            for info in infos:
                if not info.is_dir():
                    _inspect_entry(archive, info, depth=depth, label=label, budget=budget)
    except NotImplementedError as exc:
        raise _refuse("archive_unsupported", f"{label} cannot be inspected: {exc}") from exc
    except _CORRUPT as exc:
        raise _invalid(label, str(exc) or type(exc).__name__) from exc


def _check_declared(
    infos: list[zipfile.ZipInfo], *, size: int, label: str, budget: _Budget
) -> None:
    """Refuse on what the directory declares, before decompressing anything."""
    budget.entries += len(infos)
    if budget.entries > budget.max_entries:
        raise _refuse(
            "archive_too_many_entries",
            f"{label} holds too many files (more than {budget.max_entries} in all)",
        )
    declared = sum(info.file_size for info in infos)
    if budget.uncompressed + declared > budget.max_total:
        raise _bomb(label, f"it unpacks to {declared} bytes, over {budget.max_total}")
    if declared > RATIO_GRACE_BYTES and declared / max(size, 1) > budget.max_ratio:
        raise _bomb(label, f"it unpacks to {declared / max(size, 1):.0f} times its size")
    for info in infos:
        if info.flag_bits & _ENCRYPTED:
            raise _refuse(
                "archive_encrypted",
                f"{label} contains an encrypted file ({info.filename}), which cannot be checked",
            )
        _check_ratio(info, info.file_size, label=label, budget=budget)
        _check_name(info.filename, label=label)


def _check_ratio(info: zipfile.ZipInfo, uncompressed: int, *, label: str, budget: _Budget) -> None:
    if uncompressed > RATIO_GRACE_BYTES:
        ratio = uncompressed / max(info.compress_size, 1)
        if ratio > budget.max_ratio:
            raise _bomb(label, f"{info.filename} unpacks to {ratio:.0f} times its size")


def _check_name(name: str, *, label: str) -> None:
    # Windows ignores trailing dots and spaces: "setup.exe. " runs as setup.exe.
    suffix = PurePosixPath(name.replace("\\", "/").rstrip(". ")).suffix.lower()
    if suffix in DANGEROUS_EXTENSIONS:
        raise _refuse(
            "archive_executable",
            f"{label} contains {name}: files of type {suffix} are not accepted inside archives",
            detected=suffix,
        )


def _inspect_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, depth: int, label: str, budget: _Budget
) -> None:
    """Read the entry through, counting real bytes; sniff its head; recurse into zips."""
    with archive.open(info) as entry:
        head = entry.read(SNIFF_BYTES)
        read = len(head)
        _count(info, read, len(head), label=label, budget=budget)
        _check_content(head, name=info.filename, label=label)
        if not head.startswith(_ZIP_MAGIC):
            while chunk := entry.read(_CHUNK):
                read += len(chunk)
                _count(info, read, len(chunk), label=label, budget=budget)
            return
        if depth + 1 > budget.max_depth:
            raise _refuse(
                "archive_too_deep",
                f"{label} nests archives more than {budget.max_depth} levels deep "
                f"({info.filename})",
            )
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as nested:
            nested.write(head)
            while chunk := entry.read(_CHUNK):
                read += len(chunk)
                _count(info, read, len(chunk), label=label, budget=budget)
                nested.write(chunk)
            nested.seek(0)
            inner = f"{label}/{info.filename}"
            _inspect(nested, size=read, depth=depth + 1, label=inner, budget=budget)


def _count(info: zipfile.ZipInfo, read: int, new: int, *, label: str, budget: _Budget) -> None:
    # Declared sizes are checked first, but the bytes that really come out are what counts.
    budget.uncompressed += new
    if budget.uncompressed > budget.max_total:
        raise _bomb(label, f"it unpacks to more than {budget.max_total} bytes")
    _check_ratio(info, read, label=label, budget=budget)


def _check_content(head: bytes, *, name: str, label: str) -> None:
    if not head:
        return
    detected = detect_buffer(head)
    if detected.description.startswith(HEADERLESS_GUESS):
        # A COM program has no header: libmagic's "DOS executable (COM)" is a guess from the
        # first byte or two, true of ~3 % of any binary data (measured: random 5 MB entries).
        # Such programs are caught by their name (.com) instead.
        return
    if head.startswith(b"#!") or detected.media_type in EXECUTABLE_MEDIA_TYPES:
        raise _refuse(
            "archive_executable",
            f"{label} contains a program: {name} is {detected.media_type} "
            f"({detected.description[:80]})",
            detected=detected.media_type,
        )


def _refuse(code: str, message: str, *, detected: str | None = None) -> DomainError:
    extra = {"detected": detected} if detected else None
    return UnsupportedType(code, message, field="file", extra=extra)


def _bomb(label: str, why: str) -> DomainError:
    return _refuse("archive_bomb", f"{label} looks like a zip bomb: {why}")


def _invalid(label: str, why: str) -> DomainError:
    return InvalidInput(
        "archive_invalid", f"{label} is not a readable zip archive: {why}", field="file"
    )
