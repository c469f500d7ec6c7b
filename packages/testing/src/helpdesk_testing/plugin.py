"""Pytest plugin shared by every test suite (loaded with ``-p helpdesk_testing.plugin``).

Tests run against the real PostgreSQL and RabbitMQ (``scripts/test`` starts them). Each test
session gets a throw-away database and a unique exchange / queue prefix, so runs never see
each other's data or messages.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
import pytest

from helpdesk_common.auth import Principal, generate_keypair, sign_access_token
from helpdesk_common.contracts.identity import Role
from helpdesk_common.settings import ServiceSettings
from helpdesk_testing.clamd import ClamdProcess, start_clamd
from helpdesk_testing.env import AMQP_URL, PG_ADMIN_DSN
from helpdesk_testing.imap import ImapServer, start_imap

S = TypeVar("S", bound=ServiceSettings)

# A failing browser test saves screenshots of its pages (see the module).
pytest_plugins = ["helpdesk_testing.screenshots"]


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
async def database_url(run_id: str) -> AsyncIterator[str]:
    """A fresh database for this test session, dropped at the end."""
    name = f"helpdesk_test_{run_id}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return AMQP_URL


@pytest.fixture(scope="session")
def keypair() -> tuple[str, str]:
    return generate_keypair()


@pytest.fixture(scope="session")
def make_settings(
    database_url: str, amqp_url: str, run_id: str, keypair: tuple[str, str]
) -> Callable[..., Any]:
    """Build a service's settings pointing at the test database, broker and keys.

    ``make_settings(TicketsSettings, schema="tickets_a")``: every call may pass a schema of
    its own so that several instances of one service can be tested side by side.
    """

    def build(cls: type[S], *, schema: str | None = None, **overrides: Any) -> S:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "amqp_url": amqp_url,
            "event_exchange": f"test.{run_id}.events",
            "queue_prefix": f"test.{run_id}.",
            "jwt_public_key": keypair[1],
            "retry_delays": [0.2, 0.4],
            "queue_expires_seconds": 300,
            "outbox_poll_interval": 0.1,
            "log_json": False,
            "db_pool_size": 5,
        }
        if schema is not None:
            values["db_schema"] = schema
        values.update(overrides)
        return cls(**values)

    return build


@pytest.fixture(scope="session")
def make_token(keypair: tuple[str, str]) -> Callable[..., str]:
    """Sign an access token for a made-up or given principal."""

    def sign(
        role: Role = "agent",
        *,
        user_id: uuid.UUID | None = None,
        unit_id: uuid.UUID | None = None,
        name: str = "Test User",
        email: str | None = None,
        ttl: timedelta = timedelta(minutes=15),
        private_key: str | None = None,
        revision: int | None = None,
    ) -> str:
        principal = Principal(
            user_id=user_id or uuid.uuid4(),
            role=role,
            unit_id=unit_id,
            name=name,
            email=email,
            revision=revision,
        )
        return sign_access_token(
            principal,
            private_key=private_key or keypair[0],
            issuer="helpdesk-identity",
            audience="helpdesk",
            ttl=ttl,
        )

    return sign


@pytest.fixture(scope="session")
async def clamd(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ClamdProcess]:
    """One real clamd for the session, started by the first test that asks for it (~4 s).
    It has ``host``, ``port``, ``stop()`` and ``start()``: a test that stops it starts it
    again before it ends."""
    process = await start_clamd(tmp_path_factory.mktemp("clamd"))
    try:
        yield process
    finally:
        await process.stop()


@pytest.fixture(scope="session")
async def imap_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ImapServer]:
    """One real Dovecot IMAP server for the session (helpdesk_testing.imap), started by the
    first test that asks for it (~0.1 s). Shared: each test adds users of its own
    (``server.add_user(f"{uuid4().hex}@example.com", ...)``). A test that stops it starts it
    again before it ends (``stop()`` takes ~1 s); a test that needs its own server uses
    ``running_imap(tmp_path)``."""
    server = await start_imap(tmp_path_factory.mktemp("imap"))
    try:
        yield server
    finally:
        await server.close()
