"""Settings of the integrations service (environment variables prefixed ``INTEGRATIONS_``)."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from helpdesk_common.settings import ServiceSettings


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

    @model_validator(mode="after")
    def _check_secrets(self) -> Self:
        self.require_secret("secret_key")
        return self
