"""The object store side: every object of the attachments' bucket(s) copied into the backup
as a file, and back. Objects are immutable (a file's bytes never change under its key), so
an object the previous backup already holds with the same size and ETag is hard-linked from
there instead of downloaded again: thirty daily backups cost the objects once."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from minio import Minio
from minio.error import MinioException
from urllib3.exceptions import HTTPError

from helpdesk_ops.manifest import OBJECTS_DIR, BackupError, sha256_of
from helpdesk_ops.settings import BackupSettings

log = logging.getLogger("helpdesk_ops.objects")
THREADS = 8
# What a store that is down, unreachable or refusing raises (urllib3's after its retries).
S3_ERRORS = (MinioException, OSError, HTTPError)
Entry = dict[str, Any]


def client(settings: BackupSettings) -> Minio:
    endpoint = urlsplit(settings.s3_endpoint)
    return Minio(
        endpoint.netloc,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=endpoint.scheme == "https",
        region=settings.s3_region,
    )


def _segment(part: str) -> str:
    # quote() turns every "%" into "%25", so "%", "%2E" and "%2E%2E" never come from a real
    # segment: safe stand-ins for the ones a file system cannot hold.
    return {"": "%", ".": "%2E", "..": "%2E%2E"}.get(part) or quote(part, safe="")


def relative_path(bucket: str, key: str) -> str:
    """Where an object lives inside a backup: objects/<bucket>/<key, segment by segment>."""
    return "/".join([OBJECTS_DIR, bucket, *(_segment(part) for part in key.split("/"))])


def _require_bucket(store: Minio, bucket: str, settings: BackupSettings) -> None:
    try:
        exists = store.bucket_exists(bucket)
    except S3_ERRORS as exc:
        raise BackupError(f"object store {settings.s3_endpoint}: {exc}") from exc
    if not exists:
        raise BackupError(
            f"bucket {bucket!r} does not exist at {settings.s3_endpoint} (BACKUP_S3_BUCKETS "
            "names the attachments service's ATTACHMENTS_S3_BUCKET; empty for none)"
        )


def _same_object(earlier: Entry, item: Any) -> bool:
    # Objects never change under their key; size and ETag tell a re-upload apart anyway.
    return bool(earlier["size"] == item.size and earlier["etag"] == item.etag)


def _hard_link(source: Path, destination: Path) -> bool:
    """Link the previous backup's copy; False where the backups' file system cannot (another
    device, no hard links), and the object is downloaded instead."""
    try:
        os.link(source, destination)
    except OSError:
        return False
    return True


def copy_bucket(
    settings: BackupSettings, bucket: str, target: Path, previous: dict[tuple[str, str], Entry]
) -> list[Entry]:
    """Every object of ``bucket`` into ``target`` (the new backup's directory); ``previous``
    is the newest complete backup's objects by (bucket, key), with their directory."""
    store = client(settings)
    _require_bucket(store, bucket, settings)

    def copy(item: Any) -> Entry:
        entry: Entry = {
            "bucket": bucket,
            "key": item.object_name,
            "path": relative_path(bucket, item.object_name),
            "size": item.size,
            "etag": item.etag,
        }
        destination = target / entry["path"]
        destination.parent.mkdir(parents=True, exist_ok=True)
        earlier = previous.get((bucket, item.object_name))
        if earlier and _same_object(earlier, item) and _hard_link(earlier["source"], destination):
            return {**entry, "sha256": earlier["sha256"], "linked": True,
                    "content_type": earlier.get("content_type")}  # fmt: skip
        stat = store.fget_object(bucket, item.object_name, str(destination))
        return {**entry, "sha256": sha256_of(destination), "linked": False,
                "content_type": stat.content_type}  # fmt: skip

    try:
        listing = (item for item in store.list_objects(bucket, recursive=True) if not item.is_dir)
        with ThreadPoolExecutor(THREADS, thread_name_prefix="s3-copy") as pool:
            return list(pool.map(copy, listing))
    except S3_ERRORS as exc:
        raise BackupError(f"copying bucket {bucket!r} failed: {exc}") from exc


def bucket_is_empty(settings: BackupSettings, bucket: str) -> bool:
    """True for a bucket without objects, or none at all (restore makes it)."""
    store = client(settings)
    try:
        if not store.bucket_exists(bucket):
            return True
        return next(iter(store.list_objects(bucket, recursive=True)), None) is None
    except S3_ERRORS as exc:
        raise BackupError(f"object store {settings.s3_endpoint}: {exc}") from exc


def restore_objects(
    settings: BackupSettings, source: Path, buckets: Iterable[str], entries: list[Entry]
) -> int:
    """Each object back under its key, with its content type; makes missing buckets."""
    store = client(settings)

    def put(entry: Entry) -> None:
        store.fput_object(
            entry["bucket"],
            entry["key"],
            str(source / entry["path"]),
            content_type=entry.get("content_type") or "application/octet-stream",
        )

    try:
        for bucket in sorted(set(buckets)):
            if not store.bucket_exists(bucket):
                store.make_bucket(bucket)
        with ThreadPoolExecutor(THREADS, thread_name_prefix="s3-restore") as pool:
            list(pool.map(put, entries))
    except S3_ERRORS as exc:
        raise BackupError(f"restoring objects to {settings.s3_endpoint} failed: {exc}") from exc
    return len(entries)
