"""Settings of the notifications service (environment variables prefixed ``NOTIFICATIONS_``)."""

from __future__ import annotations

from datetime import time
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from helpdesk_common.settings import ServiceSettings

SmtpSecurity = Literal["none", "starttls", "tls"]


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    # Events waiting in the consumer's prefetch window are handled together, up to this many
    # in one transaction (``consumer_prefetch // consumer_batch_size`` batches at once). A
    # batch plans its ticket events together: 0.6 ms of CPU per event in batches of 8, 0.35
    # in batches of 16, about 2 ms alone.
    consumer_batch_size: int = Field(default=16, ge=1)
    # A batch with a free slot waits up to this long for more events (unless it fills): at
    # a steady rate, events that do not quite arrive together still share a batch. Mail
    # latency grows by as much at most.
    consumer_linger_seconds: float = Field(default=0.02, ge=0, le=1)
    # Each event or batch being handled holds a connection. Connections beyond the pool's
    # size are closed as soon as they are returned, so a pool smaller than what is in flight
    # opens and closes PostgreSQL sessions non-stop (~90 in a 20 s benchmark with the default
    # 10 and one event per transaction), each a backend process to start.
    db_pool_size: int = 32
    db_max_overflow: int = 8

    # Encrypts the SMTP password stored in the database; changing it makes a stored password
    # unreadable (the administrator then saves the SMTP settings again).
    # Refused in production while it is a well-known default (see ``require_secret``).
    secret_key: str = "change-me"  # noqa: S105

    # SMTP defaults, used until an administrator saves SMTP settings through the API.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_security: SmtpSecurity = "none"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "Helpdesk Kominfo <helpdesk@localhost>"
    smtp_timeout: float = 15.0
    smtp_validate_certs: bool = True
    # How long a replica may use its cached copy of the SMTP settings saved by another replica.
    smtp_settings_refresh_seconds: float = 2.0

    # Links in mails and in-app notifications point at the web client.
    web_base_url: str = "http://127.0.0.1:8000"
    brand_name: str = "Helpdesk Kominfo"
    timezone: str = "Asia/Jakarta"

    # Who hears what.
    notify_agents_on_created: bool = True
    notify_actor: bool = Field(
        default=False, description="also notify the person who performed the action"
    )
    # Roles that hear about an SLA breach (an escalation names its own roles in the event).
    sla_breach_roles: list[str] = ["leader"]

    # The daily digest: users who chose "daily digest" for an event type get one mail a day
    # at this time of day in ``timezone`` (the office's), listing what gathered since.
    digest_time: time = time(7, 0)
    # How often each replica looks for digests that are due (they go out once whatever the
    # number of replicas: a unique key per user and day).
    digest_poll_interval: float = Field(default=60.0, gt=0)
    # Users whose digest one transaction composes and queues.
    digest_batch_size: int = Field(default=50, ge=1)

    # The e-mail sender.
    # Parallel SMTP connections per replica, each kept open between mails. A connection
    # carries one mail at a time (four round trips with aiosmtplib): 16 fell behind at
    # 300 mails/s in bench/notification_latency.py, 32 kept up.
    email_send_concurrency: int = Field(default=32, ge=1, le=256)
    email_claim_batch_size: int = Field(default=100, ge=1)
    # The sender's own database connections (claims and results, a few short transactions).
    email_db_pool_size: int = Field(default=3, ge=1)
    # Fallback poll for due retries and for deliveries committed by another replica; deliveries
    # committed in this process wake the sender at once.
    email_poll_interval: float = 1.0
    # Delays before the 2nd, 3rd ... attempt; after the last one the delivery is marked failed.
    email_retry_delays: list[float] = [10.0, 30.0, 120.0, 600.0, 1800.0]
    # A claimed delivery whose sender vanished (crash) is picked up again after this long.
    email_claim_lease_seconds: float = 300.0
    # Sent and failed deliveries (with their bodies) are deleted after this many days.
    email_retention_days: float = 30.0
    # How often the sender updates the backlog gauge and purges old deliveries.
    email_housekeeping_interval: float = 60.0
    # Close an SMTP connection idle for this long instead of letting the server time it out.
    smtp_idle_close_seconds: float = 30.0

    @model_validator(mode="after")
    def _check_secret(self) -> Self:
        self.require_secret("secret_key")
        return self
