"""``helpdesk-backup schedule --at HH:MM``: a daily backup for docker-compose (Kubernetes uses
a CronJob running ``create`` instead). A heartbeat file tells the container's health check
that the loop is alive and that the last backup succeeded."""

from __future__ import annotations

import json
import logging
import signal
import threading
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helpdesk_ops import backup
from helpdesk_ops.manifest import BackupError
from helpdesk_ops.settings import BackupSettings

log = logging.getLogger("helpdesk_ops.schedule")
# The heartbeat is rewritten at least this often while the loop waits.
BEAT_SECONDS = 300.0
# The health check's limit on the heartbeat's age: a few missed beats.
HEALTHY_AGE_SECONDS = 3 * BEAT_SECONDS


def parse_at(text: str) -> time:
    try:
        hours, minutes = (int(part) for part in text.split(":"))
        return time(hours, minutes)
    except ValueError as exc:
        raise BackupError(f"--at takes HH:MM, not {text!r}") from exc


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BackupError(f"--tz takes a time zone such as Asia/Jakarta, not {name!r}") from exc


def next_run(at: time, now: datetime, zone: ZoneInfo) -> datetime:
    """The next ``at`` o'clock in ``zone`` after ``now``, in UTC."""
    local = now.astimezone(zone)
    due = datetime.combine(local.date(), at, tzinfo=zone)
    if due <= local:
        due = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    return due.astimezone(UTC)


def write_heartbeat(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps({**state, "updated_at": datetime.now(UTC).isoformat()}))
    temporary.replace(path)


def run_once(settings: BackupSettings) -> dict[str, Any]:
    """One scheduled backup; a failure is logged and recorded, and the loop goes on."""
    started = datetime.now(UTC).isoformat()
    try:
        made = backup.create(settings)
    except BackupError as exc:
        log.error("scheduled backup failed: %s", exc, extra={"error": str(exc)})
        return {"at": started, "ok": False, "error": str(exc)}
    except Exception as exc:  # the daily loop must outlive any one failure
        log.exception("scheduled backup failed")
        return {"at": started, "ok": False, "error": repr(exc)}
    return {"at": started, "ok": True, "backup": made.name}


def run_schedule(settings: BackupSettings, at_text: str, zone_name: str = "UTC") -> None:
    at, zone = parse_at(at_text), parse_zone(zone_name)
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    heartbeat = settings.heartbeat_path
    state: dict[str, Any] = {"last_run": None}
    due = next_run(at, datetime.now(UTC), zone)
    log.info("daily backup at %s %s; next %s", at_text, zone_name, due.isoformat(),
             extra={"next_run": due.isoformat()})  # fmt: skip
    while not stop.is_set():
        write_heartbeat(heartbeat, {**state, "next_run": due.isoformat()})
        wait = (due - datetime.now(UTC)).total_seconds()
        if wait > 0:
            stop.wait(min(wait, BEAT_SECONDS))
            continue
        state["last_run"] = run_once(settings)
        due = next_run(at, datetime.now(UTC), zone)
        log.info("next backup %s", due.isoformat(), extra={"next_run": due.isoformat()})
    log.info("schedule stopped")


def health(settings: BackupSettings, max_age: float = HEALTHY_AGE_SECONDS) -> str | None:
    """None when healthy, else why not (for the container's health check)."""
    path = settings.heartbeat_path
    try:
        state = json.loads(path.read_text())
        updated = datetime.fromisoformat(state["updated_at"])
    except (OSError, ValueError, KeyError):
        return f"no heartbeat in {path}"
    age = (datetime.now(UTC) - updated).total_seconds()
    if age > max_age:
        return f"heartbeat is {age:.0f}s old: the schedule loop is stuck"
    last = state.get("last_run")
    if last and not last.get("ok"):
        return f"the last backup ({last.get('at')}) failed: {last.get('error')}"
    return None
