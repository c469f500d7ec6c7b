"""The database side: PostgreSQL's own client programs (pg_dump, pg_restore, psql), which
must be at least as new as the server (pg_dump refuses a newer server; say so plainly)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from helpdesk_ops.manifest import BackupError
from helpdesk_ops.settings import BackupSettings

SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema')"


@dataclass(frozen=True)
class Connection:
    """A libpq URL without its password (argv is visible to every local user) and the
    environment carrying the password instead."""

    url: str
    env: dict[str, str]

    @classmethod
    def of(cls, libpq_url: str) -> Connection:
        parts = urlsplit(libpq_url)
        env = dict(os.environ)
        if parts.password is None:
            return cls(libpq_url, env)
        env["PGPASSWORD"] = unquote(parts.password)
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        netloc = f"{user}@{host}" if user else host
        return cls(urlunsplit(parts._replace(netloc=netloc)), env)


def connection(settings: BackupSettings, url: str | None = None) -> Connection:
    return Connection.of(BackupSettings(database_url=url).libpq_url if url else settings.libpq_url)


def _run(command: list[str], conn: Connection, what: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - PostgreSQL's client programs, our arguments
            command, env=conn.env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise BackupError(
            f"{command[0]} not found: install the PostgreSQL client (Debian: postgresql-client) "
            "or set BACKUP_PG_BIN_DIR"
        ) from exc
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def query(settings: BackupSettings, conn: Connection, sql: str) -> str:
    command = [settings.tool("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    return _run([*command, "-d", conn.url, "-c", sql], conn, "psql").strip()


def client_version(settings: BackupSettings, tool: str) -> str:
    """``pg_dump (PostgreSQL) 17.2 (Debian ...)`` -> ``17.2``."""
    output = _run([settings.tool(tool), "--version"], Connection.of(""), f"{tool} --version")
    match = re.search(r"\)\s*(\d+(?:\.\d+)?)", output)
    if not match:
        raise BackupError(f"cannot read {tool}'s version from {output.strip()!r}")
    return match.group(1)


def server_version(settings: BackupSettings, conn: Connection) -> str:
    number = int(query(settings, conn, "SHOW server_version_num"))
    return f"{number // 10000}.{number % 10000}"


def check_versions(settings: BackupSettings, conn: Connection, tool: str) -> dict[str, str]:
    """The client's and the server's versions; refuses a client older than the server."""
    client, server = client_version(settings, tool), server_version(settings, conn)
    compare_versions(tool, client=client, server=server)
    return {tool: client, "server": server}


def compare_versions(tool: str, *, client: str, server: str) -> None:
    """pg_dump reads only servers up to its own major version (and pg_restore's output of
    a newer dump may not load): the client's major version must be at least the server's."""
    major = server.split(".")[0]
    if int(client.split(".")[0]) < int(major):
        raise BackupError(
            f"{tool} {client} is older than the PostgreSQL server {server}: install a client "
            f"of major version {major} or newer (Debian/Ubuntu: postgresql-client-{major} from "
            "the PGDG repository, apt.postgresql.org), or point BACKUP_PG_BIN_DIR at one"
        )


def existing_schemas(settings: BackupSettings, conn: Connection) -> list[str]:
    names = ", ".join(f"'{name}'" for name in settings.schemas)  # names validated by settings
    rows = query(
        settings, conn, f"SELECT nspname FROM pg_namespace WHERE nspname IN ({names}) ORDER BY 1"
    )
    return rows.splitlines()


def dump(settings: BackupSettings, conn: Connection, schemas: list[str], target: Path) -> None:
    """Every schema in one pg_dump run: one snapshot, so the services' data agree."""
    selection = [f"--schema={name}" for name in schemas]
    command = [settings.tool("pg_dump"), "--format=custom", "--strict-names", *selection]
    _run([*command, f"--file={target}", "--dbname", conn.url], conn, "pg_dump")


def user_relations(settings: BackupSettings, conn: Connection) -> int:
    """Tables, views, sequences ... outside PostgreSQL's own schemas: 0 in an empty database."""
    return int(
        query(
            settings,
            conn,
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname NOT IN {SYSTEM_SCHEMAS} AND n.nspname NOT LIKE 'pg\\_%'",
        )
    )


def restore(settings: BackupSettings, conn: Connection, source: Path, schemas: list[str]) -> None:
    """pg_restore's script into psql in ONE transaction, committed only when pg_restore read
    the whole dump: all or nothing. The schemas are dropped first (empty ones in an empty
    database; with --replace, whatever they hold)."""
    prelude = "BEGIN;\nSET client_min_messages = warning;\n" + "".join(
        f'DROP SCHEMA IF EXISTS "{name}" CASCADE;\n' for name in schemas
    )
    psql = [settings.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    script = [settings.tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(source)]
    try:
        with subprocess.Popen(  # noqa: S603 - psql, our arguments
            [*psql, "-d", conn.url, "-f", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=conn.env,
        ) as loader:
            assert loader.stdin is not None
            loader.stdin.write(prelude.encode())
            loader.stdin.flush()
            # pg_restore writes straight into psql's input (no copy through Python); should
            # psql stop at an error, pg_restore ends on the closed pipe.
            reader = subprocess.Popen(  # noqa: S603 - pg_restore, our arguments
                script, stdout=loader.stdin, stderr=subprocess.PIPE, env=conn.env
            )
            reader_error = reader.communicate()[1].decode(errors="replace")
            with contextlib.suppress(BrokenPipeError):  # psql stopped at an error
                if reader.returncode == 0:
                    loader.stdin.write(b"COMMIT;\n")
                loader.stdin.close()  # without COMMIT: psql ends, the transaction is undone
            assert loader.stderr is not None
            loader_error = loader.stderr.read().decode(errors="replace")
            loader.wait()
    except FileNotFoundError as exc:
        raise BackupError(f"{exc.filename} not found: install the PostgreSQL client") from exc
    if loader.returncode != 0:
        raise BackupError(f"restore failed, nothing was changed: {loader_error.strip()}")
    if reader.returncode != 0:
        raise BackupError(f"pg_restore failed, nothing was changed: {reader_error.strip()}")
