"""Tokens follow their user's current standing (helpdesk_common.standing): a disabled user,
or a role or unit changed since the token was signed, is refused within moments, on a real
PostgreSQL with the directory replica's own tables."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from fastapi import APIRouter, FastAPI
from sqlalchemy.engine import Connection

from helpdesk_common.app import create_service_app
from helpdesk_common.auth import CurrentUser, Principal
from helpdesk_common.contracts.identity import Role, UserDeactivated, UserUpdated
from helpdesk_common.directory import create_directory_tables, directory_standing, upsert_user
from helpdesk_common.runtime import Runtime
from helpdesk_common.settings import ServiceSettings
from helpdesk_common.standing import Standing, UserStandings, channel, standing_error
from helpdesk_testing import app_client, eventually

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
UNIT_A, UNIT_B = uuid.uuid4(), uuid.uuid4()


def principal(
    role: Role = "agent", *, unit_id: uuid.UUID | None = None, revision: int | None = None
) -> Principal:
    return Principal(user_id=uuid.uuid4(), role=role, unit_id=unit_id, revision=revision)


def codes(standing: Standing, who: Principal) -> str | None:
    error = standing_error(UserStandings({who.user_id: standing}), who)
    return None if error is None else error.code


def test_the_standing_check():
    agent = principal("agent")
    assert standing_error(UserStandings(), agent) is None  # unknown here: the token's word
    assert codes(Standing("agent", None, True, 4), agent) is None
    assert codes(Standing("leader", None, True, 4), agent) == "token_outdated"
    assert codes(Standing("agent", None, False, 4), agent) == "account_disabled"
    requester = principal("requester", unit_id=UNIT_A, revision=2)
    assert codes(Standing("requester", UNIT_A, True, 2), requester) is None
    assert codes(Standing("requester", UNIT_B, True, 3), requester) == "token_outdated"
    # Signed after a change this copy has not heard of yet: believed.
    assert codes(Standing("requester", UNIT_B, True, 1), requester) is None
    # ... but never for a disabled user.
    assert codes(Standing("requester", UNIT_A, False, 1), requester) == "account_disabled"
    # Equal revisions describe the same user: a difference then is an outdated token.
    assert codes(Standing("agent", UNIT_A, True, 2), requester) == "token_outdated"


def snapshot(
    user_id: uuid.UUID,
    *,
    revision: int,
    role: Role = "agent",
    unit_id: uuid.UUID | None = None,
    active: bool = True,
) -> UserUpdated | UserDeactivated:
    event = UserUpdated if active else UserDeactivated
    return event(
        user_id=user_id,
        username=f"u{user_id.hex[:8]}",
        full_name="Rina Marlina",
        email=None,
        role=role,
        unit_id=unit_id,
        is_active=active,
        revision=revision,
        updated_at=NOW,
    )


def _create_tables(connection: Connection) -> None:
    create_directory_tables(Operations(MigrationContext.configure(connection)))


async def with_directory(runtime: Runtime) -> Runtime:
    schema = runtime.settings.schema_name
    async with runtime.engine.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await connection.run_sync(_create_tables)
    return runtime


def me_router() -> APIRouter:
    router = APIRouter()

    @router.get("/me")
    async def me(who: CurrentUser) -> dict[str, str]:
        return {"role": who.role}

    return router


@contextlib.asynccontextmanager
async def running(
    make_settings, *, check_seconds: float
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = make_settings(
        ServiceSettings,
        schema=f"standing_{uuid.uuid4().hex[:8]}",
        service_name="standing-test",
        user_standing_check_seconds=check_seconds,
    )
    app = create_service_app(
        settings=settings,
        title="standing test",
        routers=[me_router()],
        build_runtime=with_directory,
        user_standing=directory_standing,
    )
    async with app_client(app) as client:
        yield app, client


@pytest.fixture
async def service(make_settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    # No periodic check within a test: only a notification explains a change seen in time.
    async with running(make_settings, check_seconds=3600) as running_service:
        yield running_service


async def store(app: FastAPI, event: UserUpdated | UserDeactivated) -> None:
    """What the directory consumer does with identity's event, in its own transaction."""
    runtime: Runtime = app.state.runtime
    async with runtime.sessionmaker() as session, session.begin():
        assert await upsert_user(session, snapshot=event)


async def refused_within(client: httpx.AsyncClient, token: str, code: str) -> float:
    """Seconds until the token is refused with ``code`` (polled, at most 5)."""
    started = time.monotonic()

    async def refused() -> httpx.Response | None:
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        return response if response.status_code == 401 else None

    response = await eventually(refused, timeout=5, interval=0.02)
    assert response.json()["error"]["code"] == code, response.text
    return time.monotonic() - started


async def status(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/me", headers={"Authorization": f"Bearer {token}"})).status_code


async def test_a_role_change_refuses_the_old_token_at_once(service, make_token):
    app, client = service
    user_id = uuid.uuid4()
    await store(app, snapshot(user_id, revision=1, role="agent"))
    old = make_token("agent", user_id=user_id)
    stranger = make_token("agent")  # not in the directory (yet): accepted as today
    assert await status(client, old) == 200

    await store(app, snapshot(user_id, revision=2, role="leader"))
    assert await refused_within(client, old, "token_outdated") < 2
    assert await status(client, make_token("leader", user_id=user_id, revision=2)) == 200
    # A token signed from a revision this copy has not received yet is believed.
    assert await status(client, make_token("agent", user_id=user_id, revision=3)) == 200
    assert await status(client, stranger) == 200


async def test_a_unit_change_and_disabling_refuse_the_old_token(service, make_token):
    app, client = service
    user_id = uuid.uuid4()
    await store(app, snapshot(user_id, revision=1, role="requester", unit_id=UNIT_A))
    old = make_token("requester", user_id=user_id, unit_id=UNIT_A, revision=1)
    assert await status(client, old) == 200

    await store(app, snapshot(user_id, revision=2, role="requester", unit_id=UNIT_B))
    await refused_within(client, old, "token_outdated")
    moved = make_token("requester", user_id=user_id, unit_id=UNIT_B, revision=2)
    assert await status(client, moved) == 200

    await store(app, snapshot(user_id, revision=3, role="requester", unit_id=UNIT_B, active=False))
    await refused_within(client, moved, "account_disabled")
    await store(app, snapshot(user_id, revision=4, role="requester", unit_id=UNIT_B))
    # Enabled again: the same token counts again.
    await eventually(lambda: _is(status(client, moved), 200), timeout=5, interval=0.02)


async def _is(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def test_changes_unheard_while_not_listening_are_read_on_reconnecting(service, make_token):
    """A change written without a notification (or sent while the LISTEN connection was
    down) is picked up by the full re-read after the connection is back."""
    app, client = service
    runtime: Runtime = app.state.runtime
    user_id = uuid.uuid4()
    await store(app, snapshot(user_id, revision=1, role="agent"))
    token = make_token("agent", user_id=user_id, revision=1)
    assert await status(client, token) == 200
    await write_unannounced(app, user_id, role="leader", revision=2)
    async with runtime.engine.begin() as connection:
        # The process's LISTEN connection goes away (a network fault, a restart).
        listening = f'LISTEN "{channel(runtime.settings.schema_name)}"'
        terminated = await connection.scalar(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE query = :query AND datname = current_database()"
            ),
            {"query": listening},
        )
    assert terminated == 1
    await refused_within(client, token, "token_outdated")


async def write_unannounced(app: FastAPI, user_id: uuid.UUID, *, role: str, revision: int) -> None:
    """A change nobody notifies about (a lost notification)."""
    runtime: Runtime = app.state.runtime
    async with runtime.engine.begin() as connection:
        await connection.execute(
            sa.text("UPDATE users SET role = :role, revision = :revision WHERE id = :id"),
            {"id": user_id, "role": role, "revision": revision},
        )


async def test_the_periodic_check_finds_a_change_nobody_announced(make_settings, make_token):
    async with running(make_settings, check_seconds=0.2) as (app, client):
        user_id = uuid.uuid4()
        await store(app, snapshot(user_id, revision=1, role="agent"))
        token = make_token("agent", user_id=user_id, revision=1)
        assert await status(client, token) == 200
        await write_unannounced(app, user_id, role="leader", revision=2)
        await refused_within(client, token, "token_outdated")
