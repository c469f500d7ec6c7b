"""Settings of the identity service (environment variables prefixed ``IDENTITY_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from helpdesk_common.client_address import LOOPBACK, parse_networks
from helpdesk_common.settings import KNOWN_DEFAULT_SECRETS, ServiceSettings, comma_separated

MIN_PASSWORD_LENGTH = 8


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    service_name: str = "identity"

    # Ed25519 private key (PEM) that signs access tokens; the public key is derived from it.
    jwt_private_key: str = ""
    jwt_private_key_file: Path | None = None

    access_token_ttl_seconds: int = Field(default=15 * 60, gt=0)
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, gt=0)

    # Sign-in throttling (OWASP Authentication Cheat Sheet): failures are counted per account
    # and client address; after ``login_delay_after_failures`` of them that pair waits a
    # delay doubling from ``login_delay_base_seconds`` up to ``login_delay_max_seconds`` before
    # its next attempt is even checked. Other addresses are not slowed, so a user signing in
    # from a clean address gets in whatever an attacker does elsewhere. A pair's failures are
    # forgotten after ``login_failure_window_seconds`` without one, or on a correct password.
    login_delay_after_failures: int = Field(default=5, ge=1)
    login_delay_base_seconds: float = Field(default=1, gt=0)
    login_delay_max_seconds: float = Field(default=15 * 60, gt=0)
    login_failure_window_seconds: float = Field(default=60 * 60, gt=0)
    # Per client address, over all accounts: against password spraying. Higher than the
    # per-pair threshold because a whole office may share one NAT address.
    login_ip_max_failures: int = Field(default=30, ge=1)
    login_ip_window_seconds: float = Field(default=15 * 60, gt=0)
    login_ip_block_seconds: float = Field(default=15 * 60, gt=0)
    # An account with this many failures (from any addresses) within the window is under
    # attack: the user and the administrators are told, at most once per window.
    login_alert_failures: int = Field(default=10, ge=1)
    login_alert_window_seconds: float = Field(default=15 * 60, gt=0)
    # Whose X-Forwarded-For is believed (helpdesk_common.client_address): the gateway's
    # address; loopback by default (the gateway on the same host). A client reaching the
    # service any other way is counted under its own address, whatever it writes.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(LOOPBACK))

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

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        return comma_separated(value)

    @model_validator(mode="after")
    def _load_private_key(self) -> Self:
        if not self.jwt_private_key and self.jwt_private_key_file:
            self.jwt_private_key = self.jwt_private_key_file.read_text()
        parse_networks(self.trusted_proxies)
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
