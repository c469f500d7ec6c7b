"""Settings shared by every service, read from environment variables.

Each service subclasses :class:`ServiceSettings` and sets its own ``env_prefix``
(``TICKETS_``, ``IDENTITY_`` ...), so one machine can run several services side by side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that ship in examples and must never reach production.
KNOWN_DEFAULT_SECRETS = {"changeme", "change-me", "secret", "password", "admin", "guest"}


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_", extra="ignore")

    service_name: str = "service"
    environment: str = Field(default="local", description="local, test, production")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/helpdesk"
    db_schema: str = Field(default="", description="PostgreSQL schema this service owns")
    db_pool_size: int = 10
    db_max_overflow: int = 10
    # A ping before every checkout, at the price of a round trip per request. Off by default:
    # a connection the server closed (a restart) is replaced at checkout without one (the
    # driver saw the socket close; helpdesk_common.db), and a read whose connection dies
    # under it runs again. Worth turning on only where something between the service and
    # PostgreSQL drops idle connections silently (a firewall's idle timeout).
    db_pool_pre_ping: bool = False
    db_pool_recycle_seconds: int = 1800
    # Opening a database connection gives up after this long: a database host that does not
    # answer at all (down, unroutable) is a quick 503, not a request hanging for the
    # driver's default minute.
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # A plain asyncpg pool beside SQLAlchemy's, for a service's hot paths written as SQL
    # (see helpdesk_common.db.create_driver_pool); 0: none.
    db_driver_pool_size: int = 0

    # Request bodies larger than this are refused with 413 before they are read whole.
    max_body_bytes: int = Field(default=1_000_000, gt=0)

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    event_exchange: str = "helpdesk.events"
    queue_prefix: str = Field(default="", description="prefix for queue names (tests isolate runs)")
    broker_reconnect_interval: float = 2.0
    consumer_prefetch: int = 32
    # Tests set this so their throw-away queues disappear once idle; production leaves it unset.
    queue_expires_seconds: float | None = None
    # Delays (seconds) of the retry tiers before a failing message is parked in the DLQ.
    retry_delays: list[float] = [1.0, 5.0, 30.0]
    # How often a consuming replica reads its queues' depths from the broker (metrics
    # bus_queue_messages, bus_dead_letter_messages ...: helpdesk_common.queue_depths).
    queue_metrics_interval: float = Field(default=15.0, gt=0)

    # Users' standing (active, role, unit: whose tokens still count; helpdesk_common.standing)
    # follows each change at its commit through NOTIFY. Every this many seconds a process
    # also compares a fingerprint of the users table with what it holds and re-reads on a
    # difference: the longest a change can go unheard should a notification be lost.
    user_standing_check_seconds: float = Field(default=5.0, gt=0)

    outbox_poll_interval: float = 0.5
    # After a commit wakes the relay it waits this long for more events, so that under load
    # one relay round (a transaction and a batch of confirms) carries many events, not one.
    outbox_gather_seconds: float = Field(default=0.02, ge=0, le=1)
    outbox_batch_size: int = 200
    outbox_retention_days: int = 7

    # Idempotency-Key (helpdesk_common.idempotency): a write repeated with the same key within
    # this many hours gets the first answer again; older keys count as new and are swept.
    idempotency_hours: float = Field(default=24.0, gt=0)

    jwt_public_key: str = ""
    jwt_public_key_file: Path | None = None
    jwt_issuer: str = "helpdesk-identity"
    jwt_audience: str = "helpdesk"

    log_level: str = "INFO"
    log_json: bool = True

    # The shared secret of service-to-service calls: the ``/internal/...`` endpoints require
    # it in the header ``X-Internal-Token`` (helpdesk_common.auth.InternalCaller), and a
    # service calling another's sends it. Empty: this service's internal API is switched off
    # (403 ``internal_api_disabled``). The gateway never forwards ``/internal/`` paths.
    internal_token: str = ""
    # A service that serves or calls an internal API sets this: production then refuses an
    # empty internal_token too. A well-known default is refused in production by every one.
    needs_internal_token: ClassVar[bool] = False

    @model_validator(mode="after")
    def _load_public_key(self) -> Self:
        if not self.jwt_public_key and self.jwt_public_key_file:
            self.jwt_public_key = self.jwt_public_key_file.read_text()
        return self

    @model_validator(mode="after")
    def _check_internal_token(self) -> Self:
        if self.needs_internal_token or self.internal_token:
            self.require_secret("internal_token")
        return self

    @property
    def schema_name(self) -> str:
        return self.db_schema or self.service_name

    def queue_name(self, name: str) -> str:
        return f"{self.queue_prefix}{name}"

    def require_secret(self, field: str) -> None:
        """Refuse to start in production with an empty or well-known secret."""
        value = str(getattr(self, field) or "")
        if self.environment == "production" and (
            not value or value.lower() in KNOWN_DEFAULT_SECRETS
        ):
            raise ValueError(f"{field} must be set to a real secret when environment=production")


def comma_separated(value: object) -> object:
    """A list setting's value before validation (``mode="before"``, with ``NoDecode``): a
    comma-separated list from the environment, or a JSON list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value
