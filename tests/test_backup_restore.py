"""Backups that restore (issue 15): a running system with tickets, comments, a scanned file and
notifications is backed up by ``helpdesk-backup create`` (real pg_dump, real S3), restored
into an empty database and an empty bucket, and a second system started on them finds
everything back. Then, on a small real database: retention, a corrupt backup refused, an
interrupted one ignored, a non-empty target refused."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from helpdesk_ops import backup, schedule
from helpdesk_ops.manifest import MANIFEST, BackupError, scan
from helpdesk_ops.postgres import compare_versions
from helpdesk_ops.settings import BackupSettings
from helpdesk_testing import LocalSystem, eventually, local_system
from helpdesk_testing.browser import login
from helpdesk_testing.env import PG_ADMIN_DSN
from helpdesk_testing.s3 import ACCESS_KEY, SECRET_KEY, running_s3

from .test_attachments_e2e import create_ticket, setup_people, stored_zip, upload

ROOT = Path(__file__).resolve().parents[1]
BACKUP_COMMAND = Path(sys.executable).parent / "helpdesk-backup"
# What a restored deployment needs besides the backup: the secrets (keys, tokens, the keys
# that encrypt stored secrets). docs/operations.md: keep them off-site with the backups.
SECRETS = (
    "keys",
    "admin-password",
    "internal-token",
    "notifications-secret",
    "integrations-secret",
)
LOCAL_S3_SECRET = "helpdesk-local"  # deploy/local/up.py's S3 server's


def database_dsn(name: str) -> str:
    return f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"


async def helpdesk_backup(env: dict[str, str], *args: str) -> tuple[int, str]:
    """The console script as an operator runs it; its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        str(BACKUP_COMMAND),
        *args,
        env={**os.environ, "BACKUP_LOG_JSON": "false", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


async def create_database(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def seed(http: httpx.AsyncClient, system: LocalSystem) -> dict[str, Any]:
    """A ticket claimed and commented on, with a scanned file, and the requester's
    notifications of it: the state every service keeps."""
    people = await setup_people(http, system)
    requester, agent = people["requester"], people["agent"]
    ticket = await create_ticket(requester, agent)
    content = stored_zip(5000)
    photo = await upload(requester, ticket["id"], content, "foto-panel.zip")
    path = f"/api/tickets/tickets/{ticket['id']}"
    await agent.ok("POST", f"{path}/claim")
    await agent.ok("POST", f"{path}/comments", json={"body": "Teknisi menuju lokasi."})

    async def scanned() -> bool:
        body = await requester.ok("GET", f"/api/attachments/attachments/{photo['id']}")
        return bool(body["scan_status"] == "clean")

    async def notified() -> list[dict[str, Any]] | None:
        page = await requester.ok("GET", "/api/notifications/notifications")
        mine = [n for n in page["items"] if n["ticket_id"] == ticket["id"]]
        kinds = {n["event_type"] for n in mine}
        return mine if {"ticket.status_changed", "ticket.commented"} <= kinds else None

    await eventually(scanned, timeout=30, interval=0.2)
    notifications = await eventually(notified, timeout=30, interval=0.2)
    timeline = await requester.ok("GET", f"{path}/timeline")
    return {
        "people": people,
        "ticket": ticket,
        "photo": photo,
        "content": content,
        "notifications": sorted(n["id"] for n in notifications),
        "timeline": timeline,
    }


def restored_state(source: Path, target: Path) -> None:
    """The second system's state folder: the first one's secrets, as an operator keeps
    them beside the backups; nothing else (its S3 data is what the restore writes)."""
    target.mkdir(parents=True)
    for name in SECRETS:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        else:
            shutil.copy2(source / name, target / name)


async def test_a_running_system_is_backed_up_and_restored(
    system: LocalSystem, http: httpx.AsyncClient, tmp_path: Path, run_id: str
) -> None:
    assert system.state_dir and system.database and system.s3_url
    before = await seed(http, system)
    backups = tmp_path / "backups"
    source = {
        "BACKUP_DIR": str(backups),
        "BACKUP_DATABASE_URL": database_dsn(system.database),
        "BACKUP_S3_ENDPOINT": system.s3_url,
        "BACKUP_S3_SECRET_KEY": LOCAL_S3_SECRET,
    }
    code, output = await helpdesk_backup(source, "create")
    assert code == 0, output
    [made] = scan(backups)
    assert made.manifest is not None
    assert set(made.manifest["database"]["schemas"]) == {
        "identity", "tickets", "notifications", "reports", "attachments", "integrations"
    }  # fmt: skip
    object_keys = {entry["key"] for entry in made.manifest["objects"]}
    assert any(before["photo"]["id"].replace("-", "") in key for key in object_keys)
    # The next day's backup: the unchanged objects are hard links to this one's files.
    code, output = await helpdesk_backup(source, "create")
    assert code == 0, output
    second = scan(backups)[-1]
    assert second.manifest is not None and second.manifest["objects"]
    for entry in second.manifest["objects"]:
        assert entry["linked"], entry
        linked, first = second.path / entry["path"], made.path / entry["path"]
        assert linked.stat().st_ino == first.stat().st_ino

    # Restore the way docs/operations.md says: nothing running on the target, an empty
    # database and an empty bucket, then start the system on them.
    restored_run = f"{run_id}r"
    state = tmp_path / "restored-state"
    restored_state(system.state_dir, state)
    await create_database(f"helpdesk_sys_{restored_run}")
    try:
        async with running_s3(state / "s3") as s3:
            target = {
                "BACKUP_DIR": str(backups),
                "BACKUP_DATABASE_URL": database_dsn(f"helpdesk_sys_{restored_run}"),
                "BACKUP_S3_ENDPOINT": s3.endpoint,
                "BACKUP_S3_ACCESS_KEY": ACCESS_KEY,
                "BACKUP_S3_SECRET_KEY": SECRET_KEY,
            }
            code, output = await helpdesk_backup(target, "restore", "latest")
            assert code == 0, output
    except BaseException:
        await drop_database(f"helpdesk_sys_{restored_run}")
        raise
    async with local_system(
        root=ROOT,
        state_dir=state,
        run_id=restored_run,
        # The file's scan result came back with the database: no clamd needed.
        extra_args=["--no-imap", "--no-scan", "--tickets-workers", "1"],
    ) as restored:
        await find_everything_back(http, restored, before)


async def find_everything_back(
    http: httpx.AsyncClient, restored: LocalSystem, before: dict[str, Any]
) -> None:
    # The administrator's password came back with the database (and the state's copy).
    assert restored.admin_password
    people = before["people"]
    password = "rahasia-kuat-1"
    requester = await login(http, restored.gateway_url, f"requester{people['tag']}", password)
    agent = await login(http, restored.gateway_url, f"agent{people['tag']}", password)
    ticket = before["ticket"]
    path = f"/api/tickets/tickets/{ticket['id']}"
    found = await agent.ok("GET", path)
    assert found["number"] == ticket["number"] and found["status"] == "in_progress"
    assert await requester.ok("GET", f"{path}/timeline") == before["timeline"]
    comments = await requester.ok("GET", f"{path}/comments")
    items = comments["items"] if isinstance(comments, dict) else comments
    assert [c["body"] for c in items] == ["Teknisi menuju lokasi."]
    photo = before["photo"]
    listing = await requester.ok("GET", f"/api/attachments/tickets/{ticket['id']}/attachments")
    files = listing["items"] if isinstance(listing, dict) else listing
    assert [(f["id"], f["scan_status"]) for f in files] == [(photo["id"], "clean")]
    downloaded = await requester.call("GET", photo["content_url"])
    assert downloaded.status_code == 200 and downloaded.content == before["content"]
    page = await requester.ok("GET", "/api/notifications/notifications")
    mine = sorted(n["id"] for n in page["items"] if n["ticket_id"] == ticket["id"])
    assert mine == before["notifications"]


# --- Fast ones: a small real database, the database alone (no buckets) -------------------


@pytest.fixture(scope="module")
async def small_database(run_id: str) -> AsyncIterator[str]:
    """Two services' schemas with a row each."""
    name = f"bak_small_{run_id}"
    await create_database(name)
    connection = await asyncpg.connect(database_dsn(name))
    try:
        await connection.execute(
            "CREATE SCHEMA identity; CREATE SCHEMA tickets;"
            "CREATE TABLE identity.users (id serial PRIMARY KEY, name text);"
            "CREATE TABLE tickets.tickets (id serial PRIMARY KEY, title text);"
            "INSERT INTO identity.users (name) VALUES ('Rina');"
            "INSERT INTO tickets.tickets (title) VALUES ('Lampu mati');"
        )
    finally:
        await connection.close()
    yield database_dsn(name)
    await drop_database(name)


@pytest.fixture
async def empty_database(run_id: str) -> AsyncIterator[str]:
    name = f"bak_empty_{run_id}"
    await create_database(name)
    yield database_dsn(name)
    await drop_database(name)


@pytest.fixture
def settings(small_database: str, tmp_path: Path) -> Iterator[BackupSettings]:
    yield BackupSettings(database_url=small_database, dir=tmp_path / "backups", s3_buckets=())


def aged(settings: BackupSettings, days: float) -> str:
    """A real backup, its time moved ``days`` into the past (directory name and manifest)."""
    made = backup.create(settings, prune_after=False)
    assert made.manifest is not None
    when = datetime.now(UTC) - timedelta(days=days)
    name = f"{when:%Y%m%dT%H%M%SZ}"
    manifest = {**made.manifest, "name": name, "created_at": when.isoformat()}
    (made.path / MANIFEST).write_text(json.dumps(manifest))
    made.path.rename(settings.dir / name)
    return name


def names(settings: BackupSettings) -> list[str]:
    return [item.name for item in scan(settings.dir)]


def test_retention_prunes_old_backups_and_keeps_the_newest(settings: BackupSettings) -> None:
    old, recent = aged(settings, 40), aged(settings, 10)
    newest = backup.create(settings).name  # prunes after the backup
    assert names(settings) == [recent, newest]
    # Configurable: 5 days drop the 10-day-old one.
    shorter = settings.model_copy(update={"retention_days": 5})
    assert backup.prune(shorter) == [recent]
    assert names(settings) == [newest]
    assert old not in names(settings)


def test_the_newest_complete_backup_is_kept_however_old(settings: BackupSettings) -> None:
    first, last = aged(settings, 90), aged(settings, 60)
    assert backup.prune(settings) == [first]
    assert names(settings) == [last]


def test_retention_is_at_least_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKUP_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="retention_days"):
        BackupSettings()
    monkeypatch.setenv("BACKUP_RETENTION_DAYS", "45")
    assert BackupSettings().retention_days == 45
    monkeypatch.delenv("BACKUP_RETENTION_DAYS")
    assert BackupSettings().retention_days == 30


async def test_a_corrupt_backup_is_refused(settings: BackupSettings, empty_database: str) -> None:
    made = backup.create(settings)
    dump = made.path / "database.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    dump.write_bytes(bytes(data))
    assert backup.verify(settings, made.name)[1] == [
        "database.dump: checksum differs from the manifest's"
    ]
    env = {"BACKUP_DIR": str(settings.dir), "BACKUP_DATABASE_URL": empty_database}
    code, output = await helpdesk_backup(env, "restore", made.name)
    assert code == 1 and "corrupt" in output and "nothing was restored" in output, output
    assert await relations(empty_database) == 0


async def test_an_interrupted_backup_is_ignored(
    settings: BackupSettings, empty_database: str
) -> None:
    made = backup.create(settings)
    # A later run that died before its manifest: files, no manifest.
    interrupted = settings.dir / f"{datetime.now(UTC) + timedelta(seconds=5):%Y%m%dT%H%M%SZ}"
    shutil.copytree(made.path, interrupted)
    (interrupted / MANIFEST).unlink()
    env = {"BACKUP_DIR": str(settings.dir), "BACKUP_DATABASE_URL": empty_database}
    code, output = await helpdesk_backup(env, "list")
    assert code == 0 and "INCOMPLETE" in output, output
    target = settings.model_copy(update={"database_url": empty_database})
    with pytest.raises(BackupError, match="incomplete"):
        backup.restore(target, interrupted.name)
    assert await relations(empty_database) == 0
    # "latest" is the newest COMPLETE one.
    assert backup.restore(target, "latest").name == made.name
    connection = await asyncpg.connect(empty_database)
    try:
        assert await connection.fetchval("SELECT name FROM identity.users") == "Rina"
    finally:
        await connection.close()
    assert [item.name for item in scan(settings.dir) if item.complete] == [made.name]


async def test_a_non_empty_database_is_refused_unless_replaced(
    settings: BackupSettings, small_database: str
) -> None:
    made = backup.create(settings)
    env = {"BACKUP_DIR": str(settings.dir), "BACKUP_DATABASE_URL": small_database}
    connection = await asyncpg.connect(small_database)
    try:
        await connection.execute("INSERT INTO tickets.tickets (title) VALUES ('setelah backup')")
        code, output = await helpdesk_backup(env, "restore", made.name)
        assert code == 1 and "not empty" in output and "--replace" in output, output
        assert await connection.fetchval("SELECT count(*) FROM tickets.tickets") == 2
        # Explicitly: the backup's schemas replaced, the later row gone.
        backup.restore(settings, made.name, replace=True)
        titles = await connection.fetch("SELECT title FROM tickets.tickets")
        assert [row["title"] for row in titles] == ["Lampu mati"]
    finally:
        await connection.close()


def test_a_client_older_than_the_server_is_refused() -> None:
    compare_versions("pg_dump", client="17.2", server="15.20")
    compare_versions("pg_dump", client="15.1", server="15.20")
    with pytest.raises(BackupError, match=r"older than the PostgreSQL server 16\.4"):
        compare_versions("pg_dump", client="15.20", server="16.4")


async def relations(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg\\_%'"
            )
        )
    finally:
        await connection.close()


def test_the_services_database_url_is_accepted() -> None:
    """Kubernetes hands the backup the services' secret: asyncpg's URL form."""
    url = "postgresql+asyncpg://helpdesk:rahasia@db:5432/helpdesk?ssl=require"
    assert BackupSettings(database_url=url).libpq_url == (
        "postgresql://helpdesk:rahasia@db:5432/helpdesk?sslmode=require"
    )


def test_the_schedule_runs_daily_and_reports_its_health(tmp_path: Path) -> None:
    at, jakarta = schedule.parse_at("02:00"), schedule.parse_zone("Asia/Jakarta")
    before = datetime(2026, 12, 4, 18, 59, tzinfo=UTC)  # 01:59 in Jakarta (UTC+7)
    assert schedule.next_run(at, before, jakarta) == datetime(2026, 12, 4, 19, 0, tzinfo=UTC)
    assert schedule.next_run(at, before + timedelta(minutes=1), jakarta) == datetime(
        2026, 12, 5, 19, 0, tzinfo=UTC
    )
    utc = schedule.parse_zone("UTC")
    assert schedule.next_run(at, before, utc) == datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    with pytest.raises(BackupError, match="time zone"):
        schedule.parse_zone("Asia/Atlantis")
    settings = BackupSettings(dir=tmp_path)
    assert schedule.health(settings) == f"no heartbeat in {tmp_path / 'heartbeat.json'}"
    schedule.write_heartbeat(settings.heartbeat_path, {"last_run": None})
    assert schedule.health(settings) is None
    failed = {"at": "2026-12-05T02:00:00+00:00", "ok": False, "error": "pg_dump failed"}
    schedule.write_heartbeat(settings.heartbeat_path, {"last_run": failed})
    assert "failed: pg_dump failed" in (schedule.health(settings) or "")
    schedule.write_heartbeat(settings.heartbeat_path, {"last_run": {**failed, "ok": True}})
    assert schedule.health(settings, max_age=-1.0) is not None  # a stale heartbeat
