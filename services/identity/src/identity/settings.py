"""Settings of the identity service (environment variables prefixed ``IDENTITY_``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from helpdesk_common.settings import KNOWN_DEFAULT_SECRETS, ServiceSettings

MIN_PASSWORD_LENGTH = 8

# Only the gateway (on the same host or a private network) may tell us the client's address;
# a client reaching the service directly cannot spoof X-Forwarded-For past these.
DEFAULT_TRUSTED_PROXIES = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
]


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    service_name: str = "identity"

    # Ed25519 private key (PEM) that signs access tokens; the public key is derived from it.
    jwt_private_key: str = ""
    jwt_private_key_file: Path | None = None

    access_token_ttl_seconds: int = Field(default=15 * 60, gt=0)
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, gt=0)

    # Per account: this many failures within the window lock the account for lockout_seconds.
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: float = Field(default=15 * 60, gt=0)
    login_lockout_seconds: float = Field(default=15 * 60, gt=0)
    # Per client address: guards against password spraying over many usernames. Higher than
    # the per-account limit because a whole office may share one NAT address.
    login_ip_max_failures: int = Field(default=30, ge=1)
    login_ip_window_seconds: float = Field(default=15 * 60, gt=0)
    login_ip_block_seconds: float = Field(default=15 * 60, gt=0)
    trusted_proxies: list[str] = Field(default_factory=lambda: list(DEFAULT_TRUSTED_PROXIES))

    # argon2id parameters (argon2-cffi defaults, RFC 9106 "low memory"); hashes made with
    # other parameters are upgraded on the next successful login.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    bootstrap_admin_username: str = "admin"
    bootstrap_admin_password: str | None = None
    bootstrap_admin_email: str | None = None
    bootstrap_admin_full_name: str = "Administrator"

    # How often expired refresh tokens and stale login-throttle rows are deleted.
    housekeeping_interval_seconds: float = Field(default=3600, gt=0)

    @field_validator("bootstrap_admin_password", "bootstrap_admin_email", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose passes ``${ADMIN_PASSWORD:-}``: an empty variable means "not configured".
        return None if value == "" else value

    @model_validator(mode="after")
    def _load_private_key(self) -> Self:
        if not self.jwt_private_key and self.jwt_private_key_file:
            self.jwt_private_key = self.jwt_private_key_file.read_text()
        for network in self.trusted_proxies:
            ipaddress.ip_network(network, strict=False)
        return self

    def check_secrets(self) -> None:
        """Refuse to start with unsafe secrets (production) or an unusable admin password."""
        self.require_secret("jwt_private_key")
        password = self.bootstrap_admin_password
        if password is None:
            return
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(
                f"bootstrap_admin_password must have at least {MIN_PASSWORD_LENGTH} characters"
            )
        if self.environment == "production" and password.lower() in KNOWN_DEFAULT_SECRETS:
            raise ValueError("bootstrap_admin_password is a well-known default password")
