"""The shared directory replica (helpdesk_common.directory) on a real PostgreSQL."""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.identity import (
    OrganisationUpdated,
    UnitCreated,
    UnitUpdated,
    UserCreated,
    UserDeactivated,
    UserUpdated,
)
from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from helpdesk_common.db import create_engine, create_sessionmaker
from helpdesk_common.directory import (
    DirectoryOrganisation,
    DirectoryUnit,
    DirectoryUser,
    active_users,
    create_directory_tables,
    directory_consumer,
    directory_excerpt,
    directory_schema_differences,
    directory_standing,
    list_units,
    organisation,
    upsert_organisation,
    upsert_unit,
    upsert_user,
    users_by_id,
)
from helpdesk_common.settings import ServiceSettings
from helpdesk_common.standing import Standing, UserStandings

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _create_tables(connection: Connection) -> None:
    create_directory_tables(Operations(MigrationContext.configure(connection)))


@pytest.fixture(scope="module")
async def sessionmaker(make_settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    settings = make_settings(ServiceSettings, schema=f"dir_{uuid.uuid4().hex[:8]}")
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{settings.schema_name}"'))
        await connection.run_sync(_create_tables)
        assert await connection.run_sync(directory_schema_differences) == []
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_a_schema_of_another_shape_is_told_apart(make_settings):
    settings = make_settings(ServiceSettings, schema=f"dir_{uuid.uuid4().hex[:8]}")
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text(f'CREATE SCHEMA "{settings.schema_name}"'))
            await connection.run_sync(_create_tables)
            await connection.execute(sa.text("ALTER TABLE units ALTER revision TYPE integer"))
            await connection.execute(sa.text("ALTER TABLE users RENAME CONSTRAINT pk_users TO x"))
            differences = await connection.run_sync(directory_schema_differences)
    finally:
        await engine.dispose()
    modified, renamed = differences
    assert isinstance(modified, list) and modified[0][:4] == (
        "modify_type",
        None,
        "units",
        "revision",
    )
    assert isinstance(renamed, tuple) and renamed[:2] == ("primary_key", "users")


def user(user_id: uuid.UUID, *, revision: int = 1, **changes: object) -> UserCreated:
    fields: dict[str, object] = {
        "user_id": user_id,
        "username": f"u{user_id.hex[:8]}",
        "full_name": "Dewi Lestari",
        "email": "dewi@example.go.id",
        "role": "agent",
        "unit_id": None,
        "is_active": True,
        "revision": revision,
        "updated_at": NOW,
    }
    return UserCreated.model_validate({**fields, **changes})


def unit(unit_id: uuid.UUID, *, revision: int = 1, **changes: object) -> UnitCreated:
    fields: dict[str, object] = {
        "unit_id": unit_id,
        "code": "DISDIK",
        "name": "Dinas Pendidikan",
        "is_active": True,
        "revision": revision,
        "updated_at": NOW,
    }
    return UnitCreated.model_validate({**fields, **changes})


async def stored_user(
    sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID
) -> DirectoryUser | None:
    async with sessionmaker() as session:
        return await session.get(DirectoryUser, user_id)


async def upsert(sessionmaker: async_sessionmaker[AsyncSession], snapshot: object) -> bool:
    async with sessionmaker() as session, session.begin():
        if isinstance(snapshot, UserCreated | UserUpdated | UserDeactivated):
            return await upsert_user(session, snapshot=snapshot)
        assert isinstance(snapshot, UnitCreated | UnitUpdated)
        return await upsert_unit(session, snapshot=snapshot)


async def test_a_new_user_is_inserted_with_every_field(sessionmaker):
    user_id, unit_id = uuid.uuid4(), uuid.uuid4()
    snapshot = user(user_id, unit_id=unit_id, language="en", revision=2**40)
    assert await upsert(sessionmaker, snapshot) is True
    stored = await stored_user(sessionmaker, user_id)
    assert stored is not None
    assert (stored.username, stored.full_name, stored.email, stored.role) == (
        snapshot.username,
        "Dewi Lestari",
        "dewi@example.go.id",
        "agent",
    )
    assert (stored.unit_id, stored.is_active, stored.language) == (unit_id, True, "en")
    # Identity's revisions are BIGINT everywhere.
    assert (stored.revision, stored.updated_at) == (2**40, NOW)


async def test_a_newer_revision_wins_and_an_older_one_is_ignored(sessionmaker):
    user_id = uuid.uuid4()
    await upsert(sessionmaker, user(user_id, revision=1))
    assert await upsert(sessionmaker, user(user_id, revision=3, full_name="Dewi L.")) is True
    # Overtaken on the way: revision 2 arrives after 3 and changes nothing.
    assert await upsert(sessionmaker, user(user_id, revision=2, full_name="Stale")) is False
    stored = await stored_user(sessionmaker, user_id)
    assert stored is not None and (stored.full_name, stored.revision) == ("Dewi L.", 3)


async def test_a_redelivered_snapshot_changes_nothing(sessionmaker):
    user_id = uuid.uuid4()
    snapshot = user(user_id, revision=5)
    assert await upsert(sessionmaker, snapshot) is True
    before = await stored_user(sessionmaker, user_id)
    assert await upsert(sessionmaker, snapshot) is False
    # Even a different body under the same revision: the revision, not the body, decides.
    assert await upsert(sessionmaker, user(user_id, revision=5, full_name="Other")) is False
    after = await stored_user(sessionmaker, user_id)
    assert before is not None and after is not None
    assert (after.full_name, after.revision) == (before.full_name, before.revision)


async def test_a_users_standing_follows_the_stored_snapshots(sessionmaker):
    user_id, other_id, unit_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await upsert(sessionmaker, user(user_id, revision=1))
    await upsert(sessionmaker, user(other_id, revision=1, role="requester", unit_id=unit_id))
    async with sessionmaker() as session:
        everyone = await directory_standing.load(session)
        assert everyone[user_id] == Standing("agent", None, True, 1)
        assert everyone[other_id] == Standing("requester", unit_id, True, 1)
        # Only those asked for (a notified change), and nothing for an unknown id.
        some = await directory_standing.load(session, {other_id, uuid.uuid4()})
        assert some == {other_id: everyone[other_id]}
    fields = user(user_id).model_dump(exclude={"is_active", "revision"})
    await upsert(sessionmaker, UserDeactivated(**fields, is_active=False, revision=2))
    async with sessionmaker() as session:
        assert (await directory_standing.load(session, {user_id}))[user_id] == Standing(
            "agent", None, False, 2
        )
        assert user_id not in {u.id for u in await active_users(session, roles=["agent"])}
        # What the periodic check compares: rows and the sum of their revisions.
        count, revisions = await directory_standing.fingerprint(session)
        everyone = await directory_standing.load(session)
        assert (count, revisions) == UserStandings(everyone).fingerprint


async def test_units_are_upserted_by_revision(sessionmaker):
    unit_id = uuid.uuid4()
    assert await upsert(sessionmaker, unit(unit_id, contact_email="tu@disdik.go.id")) is True
    renamed = unit(unit_id, revision=3, name="Dinas Pendidikan Kota", is_active=False)
    assert await upsert(sessionmaker, renamed) is True
    assert await upsert(sessionmaker, unit(unit_id, revision=2, name="Stale")) is False
    assert await upsert(sessionmaker, renamed) is False
    async with sessionmaker() as session:
        stored = await session.get(DirectoryUnit, unit_id)
        assert stored is not None
        assert (stored.name, stored.is_active, stored.revision) == (
            "Dinas Pendidikan Kota",
            False,
            3,
        )
        assert stored.contact_email is None  # the newer snapshot has none
        assert unit_id not in {u.id for u in await list_units(session)}
        assert unit_id in {u.id for u in await list_units(session, include_inactive=True)}


def organisation_snapshot(revision: int, **changes: object) -> OrganisationUpdated:
    fields: dict[str, object] = {
        "name": f"Dinas Kominfo (revision {revision})",
        "parent_name": "Pemerintah Kota Contoh",
        "revision": revision,
        "updated_at": NOW,
    }
    return OrganisationUpdated.model_validate({**fields, **changes})


async def test_the_organisation_keeps_the_newest_revision_whatever_the_order(sessionmaker):
    logo = b"\x89PNG\r\n\x1a\n not really, but bytes all the same"
    snapshots = {
        1: organisation_snapshot(1, address="Jl. Lama 1"),
        2: organisation_snapshot(2, address="Jl. Baru 2", website="https://kota.go.id"),
        3: organisation_snapshot(
            3,
            email="kominfo@kota.go.id",
            logo_base64=base64.b64encode(logo).decode(),
            logo_media_type="image/png",
        ),
    }
    for order in itertools.permutations(snapshots):
        async with sessionmaker() as session, session.begin():
            await session.execute(sa.delete(DirectoryOrganisation))
        async with sessionmaker() as session:
            assert await organisation(session) is None  # before identity has said anything
        stored = []
        for revision in order:
            async with sessionmaker() as session, session.begin():
                stored.append(await upsert_organisation(session, snapshot=snapshots[revision]))
        # Stored exactly when newer than everything before it; a redelivery changes nothing.
        assert stored == [revision == max(order[: i + 1]) for i, revision in enumerate(order)]
        async with sessionmaker() as session, session.begin():
            assert await upsert_organisation(session, snapshot=snapshots[3]) is False
        async with sessionmaker() as session:
            newest = await organisation(session)
            assert newest is not None, order
            assert (newest.id, newest.revision, newest.name) == (
                1,
                3,
                "Dinas Kominfo (revision 3)",
            )
            assert (newest.email, newest.address, newest.website) == (
                "kominfo@kota.go.id",
                None,  # the newest snapshot has none: nothing older leaks through
                None,
            )
            assert (newest.logo, newest.logo_media_type) == (logo, "image/png")
            assert newest.updated_at == NOW


async def test_lookups(sessionmaker):
    unit_id = uuid.uuid4()
    await upsert(sessionmaker, unit(unit_id, contact_name="Tata Usaha", contact_email="tu@x.id"))
    agent, leader, requester = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await upsert(sessionmaker, user(agent, full_name="Agus"))
    await upsert(sessionmaker, user(leader, role="leader", full_name="Lina"))
    await upsert(sessionmaker, user(requester, role="requester", unit_id=unit_id))
    async with sessionmaker() as session, session.begin():
        found = await users_by_id(session, user_ids=[agent, requester, uuid.uuid4()])
        assert set(found) == {agent, requester}
        assert await users_by_id(session, user_ids=[]) == {}
        staff = await active_users(session, roles=["agent", "leader"])
        assert {agent, leader} <= {u.id for u in staff}
        assert requester not in {u.id for u in staff}
        assert [u.full_name for u in staff] == sorted(u.full_name for u in staff)

        excerpt = await directory_excerpt(
            session, user_ids=[requester], roles=["leader"], unit_id=unit_id
        )
        assert requester in excerpt.users and leader in excerpt.users
        assert agent not in excerpt.users
        assert [u.user_id for u in excerpt.active_with_roles(["leader"])] == [
            u.id for u in staff if u.role == "leader"
        ]
        assert excerpt.unit is not None
        assert (excerpt.unit.unit_id, excerpt.unit.contact_name) == (unit_id, "Tata Usaha")
        assert excerpt.unit.contact_email == "tu@x.id"


async def test_the_consumer_handles_the_identity_events(sessionmaker):
    consumer = directory_consumer("tickets")
    assert consumer.name == "tickets.directory"
    assert set(consumer.handlers) == set(SUBSCRIPTIONS["tickets.directory"])
    user_id, unit_id = uuid.uuid4(), uuid.uuid4()
    for payload in (user(user_id, full_name="Via consumer"), unit(unit_id, name="Via consumer")):
        envelope = EventEnvelope.wrap(payload, producer="identity")
        async with sessionmaker() as session, session.begin():
            await consumer.handlers[envelope.event_type](session, envelope, payload)
    async with sessionmaker() as session:
        stored_unit = await session.get(DirectoryUnit, unit_id)
        assert stored_unit is not None and stored_unit.name == "Via consumer"
    stored = await stored_user(sessionmaker, user_id)
    assert stored is not None and stored.full_name == "Via consumer"


def test_every_replica_has_a_subscription_and_others_are_refused():
    for service in ("tickets", "notifications"):
        assert SUBSCRIPTIONS[directory_consumer(service).name] == SUBSCRIPTIONS["tickets.directory"]
    # The directory's events go to the directory consumers only (the notifications consumer
    # takes user.sign_in_attacked, which is no directory event).
    assert not set(SUBSCRIPTIONS["notifications"]) & set(SUBSCRIPTIONS["tickets.directory"])
    with pytest.raises(ValueError, match="DIRECTORY_REPLICAS"):
        directory_consumer("nobody")
