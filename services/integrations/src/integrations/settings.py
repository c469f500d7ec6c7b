"""Settings of the integrations service (environment variables prefixed ``INTEGRATIONS_``)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from helpdesk_common.client_address import parse_networks
from helpdesk_common.settings import ServiceSettings, comma_separated


class IntegrationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTEGRATIONS_", extra="ignore")

    service_name: str = "integrations"
    # Tickets and comments are made through the tickets service's internal API, files through
    # the attachments service's: production refuses to start without the shared token.
    needs_internal_token: ClassVar[bool] = True
    tickets_url: str = "http://127.0.0.1:8102"
    # Empty: no attachments service; a mail's files are then listed in the ticket's text only.
    attachments_url: str = "http://127.0.0.1:8105"
    internal_timeout_seconds: float = Field(default=30.0, gt=0)

    # Encrypts the stored mailbox passwords and webhook secrets (helpdesk_common.crypto);
    # changing it makes them unreadable (an administrator then enters them again).
    secret_key: str = "change-me"  # noqa: S105

    # Chat channels (integrations.chat): a generic hook's X-Helpdesk-Timestamp may differ from
    # our clock by this much; a WhatsApp message older than this is refused as stale (401).
    chat_signature_tolerance_seconds: int = Field(default=300, ge=1)
    chat_message_max_age_seconds: int = Field(default=86400, ge=1)

    # E-mail to ticket (integrations.mail). A sender with more than mail_throttle_count mails
    # in mail_throttle_minutes gets "throttled" (nothing made) until the window passes.
    mail_throttle_count: int = Field(default=20, ge=1)
    mail_throttle_minutes: int = Field(default=10, ge=1)
    # reply_once: an unknown address is answered at most once per mailbox in this many days.
    mail_refusal_quiet_days: int = Field(default=30, ge=1)
    # Our own sending addresses (comma-separated): their mails are never read as requests.
    mail_own_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["helpdesk@localhost"]
    )
    mail_tick_seconds: float = Field(default=1.0, gt=0)  # how often due mailboxes are sought
    mail_backoff_initial_seconds: float = Field(default=30.0, gt=0)  # doubled per failure
    mail_backoff_max_seconds: float = Field(default=900.0, gt=0)
    # The tickets or attachments service unavailable (a 503, say): the first retry sooner.
    mail_service_retry_seconds: float = Field(default=5.0, gt=0)
    mail_imap_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_batch_size: int = Field(default=100, ge=1, le=10_000)  # mails per poll
    mail_concurrency: int = Field(default=8, ge=1, le=64)  # senders processed side by side
    mail_lease_seconds: float = Field(default=300.0, gt=0)  # one replica's hold on a mailbox

    @field_validator("mail_own_addresses", mode="before")
    @classmethod
    def _split_own_addresses(cls, value: object) -> object:
        items = comma_separated(value)
        return [str(item).lower() for item in items] if isinstance(items, list) else items

    # Outbound webhooks (integrations.webhooks). Networks a webhook URL may reach although
    # they are loopback, link-local (cloud metadata), unspecified or multicast: comma-separated
    # CIDRs, e.g. "127.0.0.0/8" for a receiver on this host. Empty: none of those.
    webhook_allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)  # one attempt, all of it
    webhook_retry_initial_seconds: float = Field(default=10.0, gt=0)  # doubled per failure
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_window_seconds: float = Field(default=86400.0, gt=0)  # then "failed"
    webhook_disable_after_seconds: float = Field(default=86400.0, gt=0)  # failing this long
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_lease_seconds: float = Field(default=120.0, gt=0)  # a claimed delivery's hold
    webhook_concurrency: int = Field(default=16, ge=1, le=256)
    webhook_log_retention_days: float = Field(default=30.0, gt=0)  # done deliveries kept
    # A new delivery waits this long: an older event of its ticket handled at the same
    # moment (another replica) is recorded first, and the ticket's order kept.
    webhook_settle_seconds: float = Field(default=0.3, ge=0, le=60)

    @field_validator("webhook_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        return comma_separated(value)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @model_validator(mode="after")
    def _check_secrets(self) -> Self:
        self.require_secret("secret_key")
        return self
