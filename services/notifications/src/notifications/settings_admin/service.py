"""SMTP settings: saved by an administrator, read by the sender without a restart."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.settings import NotificationsSettings, SmtpSecurity
from notifications.settings_admin.crypto import PasswordCipher, UnreadableSecret
from notifications.settings_admin.models import SmtpSettingsRow

# Where the SMTP configuration in use comes from: the environment until an administrator
# saves settings, then the database.
ConfigSource = Literal["environment", "database"]


@dataclass(frozen=True)
class SmtpConfig:
    """Everything needed to open an SMTP connection; equal configs share a connection."""

    host: str
    port: int
    security: SmtpSecurity
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    timeout: float
    validate_certs: bool
    source: ConfigSource
    # Set when the configuration cannot be used as saved (e.g. an undecryptable password).
    problem: str | None = None

    @functools.cached_property
    def envelope_sender(self) -> str:
        # Cached: read for every mail sent, and parsing an address is not free.
        return parseaddr(self.sender)[1] or self.sender


def config_from(
    row: SmtpSettingsRow | None, *, settings: NotificationsSettings, cipher: PasswordCipher
) -> SmtpConfig:
    if row is None:
        return SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.smtp_sender,
            timeout=settings.smtp_timeout,
            validate_certs=settings.smtp_validate_certs,
            source="environment",
        )
    password: str | None = None
    problem: str | None = None
    if row.password_encrypted:
        try:
            password = cipher.decrypt(row.password_encrypted)
        except UnreadableSecret:
            problem = (
                "The saved SMTP password cannot be decrypted (the service's secret key "
                "changed); an administrator must save the SMTP settings again"
            )
    return SmtpConfig(
        host=row.host,
        port=row.port,
        security=row.security,
        username=row.username,
        password=password,
        sender=row.sender,
        timeout=settings.smtp_timeout,
        validate_certs=settings.smtp_validate_certs,
        source="database",
        problem=problem,
    )


async def get_saved(session: AsyncSession) -> SmtpSettingsRow | None:
    return await session.get(SmtpSettingsRow, 1)


async def save_smtp_settings(
    session: AsyncSession,
    *,
    host: str,
    port: int,
    security: SmtpSecurity,
    username: str | None,
    password: str | None,
    sender: str,
    cipher: PasswordCipher,
    settings: NotificationsSettings,
    actor_id: uuid.UUID,
) -> SmtpSettingsRow:
    """Save the settings. ``password`` None keeps the stored one, "" removes it."""
    row = await session.get(SmtpSettingsRow, 1, with_for_update=True)
    if row is None:
        # The first save starts from the environment's password, so saving only the host (say)
        # does not silently drop credentials that were configured at deployment.
        initial = cipher.encrypt(settings.smtp_password) if settings.smtp_password else None
        row = SmtpSettingsRow(id=1, revision=0, password_encrypted=initial)
        session.add(row)
    row.host = host
    row.port = port
    row.security = security
    row.username = username or None
    if password is not None:
        row.password_encrypted = cipher.encrypt(password) if password else None
    row.sender = sender
    row.revision = (row.revision or 0) + 1
    row.updated_by = actor_id
    row.updated_at = sa.func.now()
    await session.flush()
    await session.refresh(row)
    return row


class SmtpConfigStore:
    """The current SMTP configuration, cached for a short while.

    A save in this process invalidates the cache at once; a save through another replica is
    seen within ``smtp_settings_refresh_seconds``. Either way no restart is needed.
    """

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: NotificationsSettings,
        cipher: PasswordCipher,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._cipher = cipher
        self._cached: SmtpConfig | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._cached = None

    async def current(self) -> SmtpConfig:
        ttl = self._settings.smtp_settings_refresh_seconds
        cached = self._cached
        if cached is not None and time.monotonic() - self._loaded_at < ttl:
            return cached
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._loaded_at < ttl:
                return self._cached
            async with self._sessionmaker() as session:
                row = await get_saved(session)
            self._cached = config_from(row, settings=self._settings, cipher=self._cipher)
            self._loaded_at = time.monotonic()
            return self._cached
