"""Create, prune, verify and restore backups (the commands of helpdesk-backup)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import platform
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import minio

from helpdesk_ops import objects, postgres
from helpdesk_ops.manifest import (
    DATABASE_FILE,
    FORMAT,
    Backup,
    BackupError,
    complete,
    find,
    new_name,
    problems,
    scan,
    sha256_of,
    write_manifest,
)
from helpdesk_ops.settings import BackupSettings

log = logging.getLogger("helpdesk_ops.backup")
LOCK_FILE = ".lock"


@contextlib.contextmanager
def exclusive(directory: Path) -> Iterator[None]:
    """One backup, prune or restore at a time on a backup directory (a daily run meeting a
    manual one, or a CronJob's slow run meeting the next)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOCK_FILE).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError(
                f"another backup, prune or restore is running on {directory}"
            ) from exc
        yield


def created_at(backup: Backup) -> datetime:
    if backup.manifest is None:
        return backup.started_at
    return datetime.fromisoformat(backup.manifest["created_at"])


def _previous_objects(directory: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The newest complete backup's objects, each with its file (the hard link's source)."""
    backups = complete(directory)
    if not backups:
        return {}
    newest = backups[-1]
    assert newest.manifest is not None
    return {
        (entry["bucket"], entry["key"]): {**entry, "source": newest.path / entry["path"]}
        for entry in newest.manifest["objects"]
    }


def _tools(versions: dict[str, str]) -> dict[str, str]:
    return {
        "helpdesk_ops": version("helpdesk-ops"),
        "pg_dump": versions["pg_dump"],
        "postgresql_server": versions["server"],
        "python": platform.python_version(),
        "minio": minio.__version__,
    }


def create(settings: BackupSettings, *, prune_after: bool = True) -> Backup:
    """One backup: the database (one snapshot of every schema), then the objects (a row in
    the dump always finds its object: objects are written before their rows and kept
    for days after a delete), then the manifest, last."""
    with exclusive(settings.dir):
        conn = postgres.connection(settings)
        versions = postgres.check_versions(settings, conn, "pg_dump")
        schemas = postgres.existing_schemas(settings, conn)
        if not schemas:
            raise BackupError(f"none of the schemas {', '.join(settings.schemas)} exist")
        if missing := sorted(set(settings.schemas) - set(schemas)):
            log.warning("schemas not in the database, left out: %s", ", ".join(missing))
        started, clock = datetime.now(UTC), time.monotonic()
        name = new_name(settings.dir, started)
        path = settings.dir / name
        path.mkdir()
        try:
            postgres.dump(settings, conn, schemas, path / DATABASE_FILE)
            dumped = time.monotonic() - clock
            previous = _previous_objects(settings.dir)
            copied = [
                entry
                for bucket in settings.s3_buckets
                for entry in objects.copy_bucket(settings, bucket, path, previous)
            ]
        except BaseException:
            # Never counted without a manifest anyway; the space is given back at once.
            shutil.rmtree(path, ignore_errors=True)
            raise
        database = {
            "path": DATABASE_FILE,
            "format": "pg_dump custom",
            "schemas": schemas,
            "size": (path / DATABASE_FILE).stat().st_size,
            "sha256": sha256_of(path / DATABASE_FILE),
        }
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "name": name,
            "created_at": started.isoformat(),
            "completed_at": datetime.now(UTC).isoformat(),
            "database": database,
            "buckets": list(settings.s3_buckets),
            "objects": copied,
            "totals": {
                "objects": len(copied),
                "object_bytes": sum(entry["size"] for entry in copied),
                "linked_objects": sum(1 for entry in copied if entry["linked"]),
            },
            "tools": _tools(versions),
        }
        write_manifest(path, manifest)
        backup = Backup(name, path, started, manifest)
        log.info(
            "backup %s complete: database %d bytes in %.1fs, %d objects (%d hard-linked)",
            name, database["size"], dumped, len(copied), manifest["totals"]["linked_objects"],
            extra={"backup": name, "bytes": backup.size, "objects": len(copied),
                   "seconds": round(time.monotonic() - clock, 2)},
        )  # fmt: skip
        if prune_after:
            _prune(settings)
    return backup


def prune(settings: BackupSettings) -> list[str]:
    with exclusive(settings.dir):
        return _prune(settings)


def _prune(settings: BackupSettings) -> list[str]:
    """Deletes the backups (complete or not) older than the retention, never the newest
    complete one: a stopped schedule must not end with nothing to restore."""
    backups = scan(settings.dir)
    done = [backup for backup in backups if backup.complete]
    keep = done[-1].name if done else None
    cutoff = datetime.now(UTC) - timedelta(days=settings.retention_days)
    deleted = []
    for backup in backups:
        if backup.name != keep and created_at(backup) < cutoff:
            shutil.rmtree(backup.path)  # a hard-linked object stays in the others
            deleted.append(backup.name)
            log.info("deleted backup %s (older than %d days)", backup.name,
                     settings.retention_days, extra={"backup": backup.name})  # fmt: skip
    return deleted


def verify(settings: BackupSettings, name: str) -> tuple[Backup, list[str]]:
    backup = find(settings.dir, name)
    return backup, problems(backup)


def restore(settings: BackupSettings, name: str, *, replace: bool = False) -> Backup:
    """Into an empty database and empty buckets (or, with ``replace``, over what is there:
    the backup's schemas are dropped and the objects overwritten). Checked first, restored
    only when every file matches the manifest."""
    with exclusive(settings.dir):
        backup = find(settings.dir, name)
        assert backup.manifest is not None
        if found := problems(backup):
            raise BackupError(
                f"backup {backup.name} is corrupt, nothing was restored: " + "; ".join(found)
            )
        conn = postgres.connection(settings)
        postgres.check_versions(settings, conn, "pg_restore")
        buckets: list[str] = backup.manifest["buckets"]
        if not replace:
            _require_empty(settings, conn, buckets)
        database = backup.manifest["database"]
        clock = time.monotonic()
        postgres.restore(settings, conn, backup.path / database["path"], database["schemas"])
        count = objects.restore_objects(settings, backup.path, buckets, backup.manifest["objects"])
        log.info("restored backup %s: schemas %s, %d objects", backup.name,
                 ", ".join(database["schemas"]), count,
                 extra={"backup": backup.name, "objects": count,
                        "seconds": round(time.monotonic() - clock, 2)})  # fmt: skip
    return backup


def _require_empty(settings: BackupSettings, conn: postgres.Connection, buckets: list[str]) -> None:
    relations = postgres.user_relations(settings, conn)
    if relations:
        raise BackupError(
            f"the target database is not empty ({relations} tables, sequences or views): "
            "restore into an empty database (createdb), or pass --replace to drop the "
            "backup's schemas there and restore them"
        )
    if full := [bucket for bucket in buckets if not objects.bucket_is_empty(settings, bucket)]:
        raise BackupError(
            f"bucket(s) {', '.join(full)} at {settings.s3_endpoint} are not empty: restore "
            "into empty buckets, or pass --replace to overwrite the objects under the same keys"
        )
