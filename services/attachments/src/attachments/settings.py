"""Settings of the attachments service (environment variables prefixed ``ATTACHMENTS_``)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from attachments.content import DEFAULT_ALLOWED, validate_names
from helpdesk_common.settings import ServiceSettings

MB = 1024 * 1024
LOCAL_S3_SECRET = "helpdesk-local"  # noqa: S105 (the local S3 server's, never production's)


class AttachmentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ATTACHMENTS_", extra="ignore")

    service_name: str = "attachments"
    # It asks the tickets service for a ticket it has not heard of yet (a file uploaded a
    # moment after its ticket was created): production refuses to start without the token.
    needs_internal_token: ClassVar[bool] = True
    tickets_url: str = "http://127.0.0.1:8102"

    # Ticket events waiting in the queue are handled up to this many in one transaction
    # (``consumer_prefetch // consumer_batch_size`` batches at once), their snapshots
    # written in one statement.
    consumer_batch_size: int = Field(default=16, ge=1)
    # A batch waits up to this long for more events before it runs (unless full): steady
    # events share transactions; the local copy is that much later (an upload meanwhile
    # asks the tickets service, as for any ticket not heard of yet).
    consumer_linger_seconds: float = Field(default=0.02, ge=0, le=1)

    # Object storage: any S3-compatible server (SeaweedFS, MinIO, a cloud's S3), path-style.
    s3_endpoint: str = "http://127.0.0.1:8333"
    s3_access_key: str = "helpdesk"
    # The local runner's; production refuses to start with it (_check).
    s3_secret_key: str = LOCAL_S3_SECRET
    s3_region: str = "us-east-1"
    s3_bucket: str = "helpdesk-attachments"
    # S3 calls run in worker threads (the client is synchronous): at most this many at once,
    # and whole-file uploads at most s3_upload_threads of them (storage/s3.py).
    s3_threads: int = Field(default=16, ge=1)
    s3_upload_threads: int = Field(default=8, ge=1)
    s3_max_connections: int = Field(default=128, ge=1)
    s3_timeout_seconds: float = Field(default=20.0, gt=0)

    # What is accepted: file types by content (attachments.content.CATALOGUE names).
    allowed_types: Annotated[tuple[str, ...], NoDecode] = DEFAULT_ALLOWED
    max_file_bytes: int = Field(default=10 * MB, ge=1)
    max_files_per_ticket: int = Field(default=20, ge=1)
    max_ticket_bytes: int = Field(default=50 * MB, ge=1)
    # Archives (zip, and the zip inside docx/xlsx): refused past these.
    archive_max_entries: int = Field(default=1000, ge=1)
    archive_max_ratio: float = Field(default=100.0, gt=1)
    archive_max_uncompressed_bytes: int = Field(default=200 * MB, ge=1)
    # Uploads are spooled here (on disk, never whole in memory) while they are checked, at
    # most check_threads at once (files/checks.py).
    spool_dir: str | None = None
    check_threads: int = Field(default=4, ge=1)

    # Malware scanning by clamd (ClamAV's daemon) over TCP. Off: files are "not_scanned"
    # and the web client says so.
    scan_enabled: bool = True
    clamd_host: str = "127.0.0.1"
    clamd_port: int = 3310
    clamd_timeout_seconds: float = Field(default=30.0, gt=0)
    # clamd's StreamMaxLength; larger files get the state "too_large" (never "clean").
    scan_max_bytes: int = Field(default=25 * MB, ge=1)
    # The scan worker looks for pending files this often (and at once after an upload).
    scan_poll_seconds: float = Field(default=5.0, gt=0)

    # Who may delete a file: "uploader_or_admin" (the uploader while the ticket is open, or
    # an administrator) or "admin" (administrators only).
    delete_policy: Literal["uploader_or_admin", "admin"] = "uploader_or_admin"
    # A deleted or quarantined file's object is kept this long, then removed.
    retention_days: float = Field(default=30.0, ge=0)
    # An upload that never finished (its object written, its row not) is cleaned up after
    # this long; the sweep runs every sweep_interval_seconds.
    orphan_after_seconds: float = Field(default=3600.0, gt=0)
    sweep_interval_seconds: float = Field(default=300.0, gt=0)
    # Idempotency-Key: a repeated upload with the same key within idempotency_hours (the
    # shared setting) returns the first attachment.

    thumbnail_size: int = Field(default=320, ge=32, le=1024)

    @field_validator("allowed_types", mode="before")
    @classmethod
    def _split_types(cls, value: object) -> object:
        if isinstance(value, str):
            value = [item.strip().lower() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> Self:
        self.allowed_types = validate_names(self.allowed_types)
        self.require_secret("s3_secret_key")
        if self.environment == "production" and self.s3_secret_key == LOCAL_S3_SECRET:
            raise ValueError(
                "s3_secret_key must be set to a real secret when environment=production"
            )
        if self.max_body_bytes < 4 * self.max_file_bytes:
            # The app's generic limit must not refuse an upload before the upload's own
            # check answers with the file limit in the message (files/intake.py). No route
            # here reads a large body into memory.
            self.max_body_bytes = 4 * self.max_file_bytes
        return self
