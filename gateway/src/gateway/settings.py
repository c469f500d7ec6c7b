"""Gateway settings, read from ``GATEWAY_*`` environment variables.

The gateway owns no database and no broker, so it does not reuse ``ServiceSettings`` (whose
database and broker fields would only mislead an operator reading the configuration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from helpdesk_common.client_address import parse_networks
from helpdesk_common.settings import comma_separated

# Every service the gateway knows how to route to, in the order the combined API document
# lists them. A service is only reachable once its ``GATEWAY_<NAME>_URL`` is set.
SERVICES: tuple[str, ...] = (
    "identity",
    "tickets",
    "notifications",
    "attachments",
    "reports",
    "integrations",
)


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    environment: str = Field(default="local", description="local, test, production")

    # Base URLs of the services; unset means "not deployed": the prefix answers 404.
    identity_url: str | None = None
    tickets_url: str | None = None
    notifications_url: str | None = None
    attachments_url: str | None = None
    reports_url: str | None = None
    integrations_url: str | None = None

    connect_timeout: float = Field(default=2.0, gt=0, description="TCP connect to a service")
    read_timeout: float = Field(
        default=30.0, gt=0, description="wait for a service's response (and each body chunk)"
    )
    upstream_max_connections: int = Field(default=100, ge=1, description="pool size per service")
    # Server-sent event streams (live lists, dashboards) hold their upstream connection for
    # as long as the page is open: they have a pool of their own per service, so that open
    # pages can never take the connections every other request needs.
    upstream_max_streams: int = Field(
        default=5000, ge=1, description="open event streams per service"
    )
    # Below uvicorn's default keep-alive (5 s) so the gateway never reuses a connection the
    # service is just closing (that race would surface as sporadic 502s on POSTs).
    upstream_keepalive_timeout: float = Field(default=3.0, gt=0)
    max_request_body_bytes: int = Field(
        default=64 * 1024 * 1024, ge=0, description="413 above this; 0 = no limit"
    )

    # Token bucket per client (token subject, else client IP). rate <= 0 disables limiting.
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = Field(default=100, ge=1)

    # The ingress / load balancer in front of the gateway whose X-Forwarded-For is believed
    # (addresses or networks, comma-separated); none by default: the peer is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated or JSON list; empty = no CORS"
    )

    jwt_public_key: str = ""
    jwt_public_key_file: Path | None = None
    jwt_issuer: str = "helpdesk-identity"
    jwt_audience: str = "helpdesk"
    token_cache_size: int = Field(default=10_000, ge=0, description="verified tokens kept")

    openapi_cache_seconds: float = Field(default=30.0, ge=0)
    health_timeout: float = Field(default=1.0, gt=0, description="per-service readiness probe")

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator(
        "identity_url",
        "tickets_url",
        "notifications_url",
        "attachments_url",
        "reports_url",
        "integrations_url",
    )
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("a service URL must start with http:// or https://")
        return value

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return comma_separated(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @model_validator(mode="after")
    def _load_public_key(self) -> Self:
        if not self.jwt_public_key and self.jwt_public_key_file:
            self.jwt_public_key = self.jwt_public_key_file.read_text()
        if self.environment == "production" and not self.jwt_public_key:
            raise ValueError("jwt_public_key (or jwt_public_key_file) is required in production")
        return self

    def service_url(self, service: str) -> str | None:
        return getattr(self, f"{service}_url", None)

    def upstream_urls(self) -> dict[str, str]:
        """The deployed services: name -> base URL."""
        return {name: url for name in SERVICES if (url := self.service_url(name))}
