"""What happens to an upload between receiving it and storing it: its type by content
against the allow-list, archives opened and inspected, location data stripped from photos,
a thumbnail made. CPU and disk work on the spool file, in a worker thread."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from attachments.content import (
    FileType,
    classify,
    inspect_archive,
    make_thumbnail,
    strip_metadata,
)
from attachments.settings import AttachmentsSettings

_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Checked:
    file_type: FileType
    size: int
    sha256: str
    metadata_stripped: bool
    thumbnail: bytes | None


def _digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(_HASH_CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def check_file(
    path: Path, *, filename: str, size: int, sha256: str, settings: AttachmentsSettings
) -> Checked:
    """Refuses (raising the content module's domain errors: 415, 422) or returns what is
    stored: the bytes as they are now on disk (stripped of location data), their digest."""
    file_type = classify(path, allowed=settings.allowed_types, filename=filename)
    if file_type.archive:
        inspect_archive(
            path,
            max_entries=settings.archive_max_entries,
            max_total_uncompressed=settings.archive_max_uncompressed_bytes,
            max_ratio=settings.archive_max_ratio,
        )
    stripped = file_type.image and strip_metadata(path, file_type)
    if stripped:
        # What is stored is the stripped file: its own size and digest (the original,
        # with the location in it, is never stored).
        size, sha256 = _digest(path)
    thumbnail = make_thumbnail(path, size=settings.thumbnail_size) if file_type.image else None
    return Checked(
        file_type=file_type,
        size=size,
        sha256=sha256,
        metadata_stripped=stripped,
        thumbnail=thumbnail,
    )


async def check_upload(
    path: Path,
    *,
    filename: str,
    size: int,
    sha256: str,
    settings: AttachmentsSettings,
    executor: ThreadPoolExecutor,
) -> Checked:
    """``check_file`` in one of the checks' threads (``executor``: the checks are CPU work
    with a few MB of buffers each, libmagic's and the archive reader's; more at once than
    there are cores would only add memory)."""
    call = functools.partial(
        check_file, path, filename=filename, size=size, sha256=sha256, settings=settings
    )
    return await asyncio.get_running_loop().run_in_executor(executor, call)
