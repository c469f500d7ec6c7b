"""The backups in BACKUP_DIR: one directory per backup, named by its UTC time, complete once
its manifest.json is there (written last). Without a manifest a backup is incomplete: never
listed as restorable, never the newest one, never restored."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
DATABASE_FILE = "database.dump"
OBJECTS_DIR = "objects"
FORMAT = 1
NAME_FORMAT = "%Y%m%dT%H%M%SZ"
# 20261205T020000Z, or 20261205T020000Z-2 for a second one within the same second.
NAME = re.compile(r"^(\d{8}T\d{6}Z)(?:-\d+)?$")
CHUNK = 1024 * 1024


class BackupError(Exception):
    """Something the operator must hear about, in a sentence (no traceback)."""


@dataclass
class Backup:
    name: str
    path: Path
    started_at: datetime
    manifest: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        return self.manifest is not None

    @property
    def size(self) -> int:
        """Bytes this backup holds, objects shared with other backups (hard links) included."""
        if self.manifest is None:
            return 0
        return int(self.manifest["database"]["size"]) + sum(
            int(item["size"]) for item in self.manifest["objects"]
        )


def new_name(directory: Path, now: datetime) -> str:
    base = now.astimezone(UTC).strftime(NAME_FORMAT)
    name, counter = base, 1
    while (directory / name).exists():
        counter += 1
        name = f"{base}-{counter}"
    return name


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None  # missing, or cut short: incomplete
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def scan(directory: Path) -> list[Backup]:
    """Every backup directory (complete or not), oldest first. Other entries are left alone."""
    if not directory.is_dir():
        return []
    backups = []
    for path in directory.iterdir():
        match = NAME.match(path.name)
        if not match or not path.is_dir():
            continue
        started = datetime.strptime(match.group(1), NAME_FORMAT).replace(tzinfo=UTC)
        backups.append(Backup(path.name, path, started, _read_manifest(path)))
    return sorted(backups, key=lambda backup: (backup.started_at, backup.name))


def complete(directory: Path) -> list[Backup]:
    return [backup for backup in scan(directory) if backup.complete]


def find(directory: Path, name: str) -> Backup:
    """A complete backup by name, or the newest complete one for ``latest``."""
    backups = complete(directory)
    if name == "latest":
        if not backups:
            raise BackupError(f"no complete backup in {directory}")
        return backups[-1]
    for backup in scan(directory):
        if backup.name == name:
            if not backup.complete:
                raise BackupError(
                    f"backup {name} is incomplete (no {MANIFEST}): it was interrupted and "
                    "cannot be restored"
                )
            return backup
    raise BackupError(f"no backup named {name!r} in {directory}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Atomically, and durably: the manifest is what makes the backup count."""
    temporary = path / f".{MANIFEST}.tmp"
    with temporary.open("w") as stream:
        json.dump(manifest, stream, indent=2, sort_keys=True)
        stream.flush()
        os.fsync(stream.fileno())
    temporary.replace(path / MANIFEST)
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def problems(backup: Backup) -> list[str]:
    """What is wrong with a complete backup's files: missing, wrong size, wrong checksum."""
    assert backup.manifest is not None
    entries = [backup.manifest["database"], *backup.manifest["objects"]]
    found = []
    for entry in entries:
        path = backup.path / entry["path"]
        if not path.is_file():
            found.append(f"{entry['path']}: missing")
        elif path.stat().st_size != int(entry["size"]):
            found.append(f"{entry['path']}: {path.stat().st_size} bytes, expected {entry['size']}")
        elif sha256_of(path) != entry["sha256"]:
            found.append(f"{entry['path']}: checksum differs from the manifest's")
    return found
