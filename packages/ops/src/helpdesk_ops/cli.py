"""``helpdesk-backup``: consistent backups of every service's schema and the object store,
their retention, and restores (docs/operations.md, "Backups")."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from pydantic import ValidationError

from helpdesk_ops import backup, logs, schedule
from helpdesk_ops.manifest import Backup, BackupError, scan
from helpdesk_ops.settings import BackupSettings

log = logging.getLogger("helpdesk_ops")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="helpdesk-backup", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="a backup now, then prune old ones")
    create.add_argument("--no-prune", action="store_true", help="keep every old backup")
    listing = commands.add_parser("list", help="the backups, oldest first")
    listing.add_argument("--json", action="store_true")
    commands.add_parser("prune", help="delete backups older than BACKUP_RETENTION_DAYS")
    verify = commands.add_parser("verify", help="check a backup's files against its manifest")
    verify.add_argument("name", help="a backup's name, or latest")
    restore = commands.add_parser("restore", help="restore a backup into an empty system")
    restore.add_argument("name", help="a backup's name, or latest")
    restore.add_argument(
        "--replace",
        action="store_true",
        help="restore over a database or bucket that is not empty: the backup's schemas are "
        "DROPPED there first and objects with the same keys overwritten",
    )
    daily = commands.add_parser("schedule", help="run create every day (docker-compose)")
    daily.add_argument("--at", default="02:00", help="time of day, HH:MM")
    daily.add_argument("--tz", default="UTC", help="the time zone of --at, e.g. Asia/Jakarta")
    commands.add_parser("health", help="exit 0 if the schedule is alive and its last run passed")
    return root


def describe(item: Backup) -> dict[str, object]:
    manifest = item.manifest or {}
    return {
        "name": item.name,
        "complete": item.complete,
        "created_at": manifest.get("created_at", item.started_at.isoformat()),
        "bytes": item.size,
        "objects": len(manifest.get("objects", [])),
        "schemas": manifest.get("database", {}).get("schemas", []),
    }


def print_list(settings: BackupSettings, as_json: bool) -> None:
    rows = [describe(item) for item in scan(settings.dir)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print(f"no backups in {settings.dir}")
    for row in rows:
        state = "complete" if row["complete"] else "INCOMPLETE (no manifest: never restored)"
        print(f"{row['name']}  {state:<10}  {row['bytes']:>14,} bytes  {row['objects']:>7} objects")


def run(args: argparse.Namespace, settings: BackupSettings) -> int:
    if args.command == "create":
        made = backup.create(settings, prune_after=not args.no_prune)
        print(made.name)
    elif args.command == "list":
        print_list(settings, args.json)
    elif args.command == "prune":
        for name in backup.prune(settings):
            print(f"deleted {name}")
    elif args.command == "verify":
        checked, found = backup.verify(settings, args.name)
        for problem in found:
            print(f"{checked.name}: {problem}", file=sys.stderr)
        if found:
            return 1
        print(f"{checked.name}: every file matches its manifest")
    elif args.command == "restore":
        restored = backup.restore(settings, args.name, replace=args.replace)
        print(f"restored {restored.name}: start the services now")
    elif args.command == "schedule":
        schedule.run_schedule(settings, args.at, args.tz)
    elif args.command == "health" and (unhealthy := schedule.health(settings)):
        print(unhealthy, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = BackupSettings()
    except ValidationError as exc:
        print(f"helpdesk-backup: invalid BACKUP_ settings:\n{exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, as_json=settings.log_json)
    try:
        return run(args, settings)
    except BackupError as exc:
        log.error("%s failed: %s", args.command, exc, extra={"error": str(exc)})
        print(f"helpdesk-backup {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
