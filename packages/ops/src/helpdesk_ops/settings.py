"""Settings of the backup tool (environment variables prefixed ``BACKUP_``).

The names are part of the deployment contract: docker-compose.yml, the Kubernetes CronJob
and docs/operations.md ("Backups") use them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Every service's schema (one database, one schema per service: docs/operations.md).
SERVICE_SCHEMAS = (
    "identity",
    "tickets",
    "notifications",
    "reports",
    "attachments",
    "integrations",
)
# The attachments service's default bucket (ATTACHMENTS_S3_BUCKET).
ATTACHMENTS_BUCKET = "helpdesk-attachments"


def _split_list(value: object) -> object:
    """``a,b , c`` from the environment as a tuple; lists pass through."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


class BackupSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKUP_", extra="ignore")

    # The helpdesk database. The services' SQLAlchemy form (postgresql+asyncpg://) is
    # accepted too: pg_dump gets it without the driver part (libpq_url).
    database_url: str = "postgresql://postgres@127.0.0.1:5432/helpdesk"
    # The schemas dumped (all in one pg_dump run: one snapshot).
    schemas: Annotated[tuple[str, ...], NoDecode] = SERVICE_SCHEMAS

    # Where backups go: one directory per backup, named by its UTC time.
    dir: Path = Path("/backups")
    # Backups older than this are deleted after each new one (never the newest complete one).
    retention_days: int = Field(default=30, ge=1)

    # The object store of the attachments service (its ATTACHMENTS_S3_* settings).
    s3_endpoint: str = "http://127.0.0.1:8333"
    s3_access_key: str = "helpdesk"
    s3_secret_key: str = "helpdesk-local"  # noqa: S105 (the local S3 server's)
    s3_region: str = "us-east-1"
    # The buckets copied; empty: the database alone (an installation without attachments).
    s3_buckets: Annotated[tuple[str, ...], NoDecode] = (ATTACHMENTS_BUCKET,)

    # pg_dump and pg_restore: from PATH, or from this directory (/usr/lib/postgresql/17/bin).
    pg_bin_dir: Path | None = None
    # pg_dump's parallelism does not apply to one consistent custom-format file; pg_restore's does.
    restore_jobs: int = Field(default=2, ge=1)

    # `schedule` touches this file after every run (successful or not, its content says
    # which): the container's health check reads its age. Default: <dir>/heartbeat.json.
    heartbeat_file: Path | None = None

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("schemas", "s3_buckets", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _split_list(value)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.schemas:
            raise ValueError("schemas: at least one schema to back up")
        for name in (*self.schemas, *self.s3_buckets):
            if not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
                raise ValueError(f"not a schema or bucket name: {name!r}")
        return self

    @property
    def libpq_url(self) -> str:
        """The database URL as libpq (pg_dump, pg_restore, psql) reads it: without the
        driver (postgresql+asyncpg://), asyncpg's ``ssl=`` as libpq's ``sslmode=``."""
        scheme, sep, rest = self.database_url.partition("://")
        if not sep:
            return self.database_url
        address, _, query = rest.partition("?")
        parameters = [
            f"sslmode={value}" if key == "ssl" else f"{key}={value}"
            for key, _, value in (item.partition("=") for item in query.split("&") if item)
        ]
        tail = f"?{'&'.join(parameters)}" if parameters else ""
        return f"{scheme.split('+', 1)[0]}://{address}{tail}"

    @property
    def heartbeat_path(self) -> Path:
        return self.heartbeat_file or self.dir / "heartbeat.json"

    def tool(self, name: str) -> str:
        """The path of a PostgreSQL client program (pg_dump, pg_restore, psql)."""
        return str(self.pg_bin_dir / name) if self.pg_bin_dir else name
