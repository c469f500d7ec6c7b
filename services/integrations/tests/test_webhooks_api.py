"""Outbound webhooks' admin API: registration with its SSRF refusals, the secret shown
once, changes with versions, re-enabling, the event types, who may use it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
import sqlalchemy as sa

from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from helpdesk_testing.inputs import refused
from helpdesk_testing.migrations import model_differences
from integrations.models import metadata
from integrations.webhooks import service
from integrations.webhooks.models import Webhook, WebhookDelivery
from integrations.webhooks.schemas import EventType
from integrations.webhooks.signing import MIN_SECRET_LENGTH

from .conftest import Person, World, running_integrations

LOOPBACK = "http://127.0.0.1:9/hook"


@pytest.fixture(scope="module")
async def world(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[World]:
    # Loopback is allowed here (as the tests' receivers are on it); the refusals without the
    # setting are in the fixture below.
    async with running_integrations(
        make_settings, make_token, webhook_allowed_networks="127.0.0.0/8"
    ) as started:
        yield started


@pytest.fixture(scope="module")
async def strict(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[World]:
    async with running_integrations(make_settings, make_token) as started:
        yield started


async def admin_of(world: World) -> dict[str, str]:
    return (await world.person("admin")).headers


def body(**changes: Any) -> dict[str, Any]:
    return {"name": "ERP Dinas", "url": LOOPBACK, "event_types": ["ticket.created"], **changes}


async def test_event_types_are_the_consumers_subscriptions(world: World) -> None:
    response = await world.client.get("/webhooks/event-types", headers=await admin_of(world))
    assert response.status_code == 200, response.text
    listed = [item["event_type"] for item in response.json()]
    assert listed == sorted(SUBSCRIPTIONS["integrations.webhooks"])
    assert all(item["description"] for item in response.json())
    # The request schema's enum is the same list.
    assert set(get_args(EventType)) == set(SUBSCRIPTIONS["integrations.webhooks"])


async def test_create_generates_a_secret_shown_once(world: World) -> None:
    admin = await admin_of(world)
    headers = {**admin, "Idempotency-Key": f"create-{uuid.uuid4()}"}
    created = await world.client.post("/webhooks", json=body(), headers=headers)
    assert created.status_code == 201, created.text
    out = created.json()
    assert len(out["secret"]) >= MIN_SECRET_LENGTH
    assert out["has_secret"] is True
    assert out["state"] == "active" and out["version"] == 1
    assert out["event_types"] == ["ticket.created"]
    # Never again: not in a read, not in a replay of the same request.
    read = await world.client.get(f"/webhooks/{out['id']}", headers=admin)
    assert "secret" not in read.json()
    assert out["secret"] not in read.text
    replay = await world.client.post("/webhooks", json=body(), headers=headers)
    assert replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["id"] == out["id"] and replay.json()["secret"] is None
    # Stored encrypted.
    async with world.runtime.sessionmaker() as session:
        stored = await session.get(Webhook, uuid.UUID(out["id"]))
    assert stored is not None and out["secret"] not in stored.secret_encrypted
    assert world.runtime.cipher.decrypt(stored.secret_encrypted) == out["secret"]


async def test_own_secret_is_kept_and_not_returned(world: World) -> None:
    admin = await admin_of(world)
    created = await world.client.post(
        "/webhooks", json=body(secret="s" * MIN_SECRET_LENGTH), headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.json()["secret"] is None
    short = await world.client.post(
        "/webhooks", json=body(secret="s" * (MIN_SECRET_LENGTH - 1)), headers=admin
    )
    refused(short, "secret")


async def test_bad_bodies_are_refused_naming_the_field(world: World) -> None:
    admin = await admin_of(world)
    for changes, field in (
        ({"event_types": []}, "event_types"),
        ({"event_types": ["user.created"]}, "event_types.0"),
        ({"name": "  "}, "name"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "not a url at all"}, "url"),
        ({"is_active": "yes"}, "is_active"),
    ):
        response = await world.client.post("/webhooks", json=body(**changes), headers=admin)
        assert response.status_code == 422, (changes, response.text)
        fields = [f["field"] for f in response.json()["error"]["fields"]]
        assert any(f.startswith(field) for f in fields), (changes, fields)
    async with world.runtime.sessionmaker() as session:
        names = (await session.scalars(sa.select(Webhook.url))).all()
    assert "ftp://127.0.0.1/x" not in names


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1:8080/hook", "address_not_allowed"),
        ("http://127.1.2.3/hook", "address_not_allowed"),
        ("http://169.254.169.254/latest/meta-data/", "address_not_allowed"),
        ("http://[::1]:8080/hook", "address_not_allowed"),
        ("http://[::ffff:127.0.0.1]/hook", "address_not_allowed"),
        ("http://[fe80::1]/hook", "address_not_allowed"),
        ("http://0.0.0.0:80/hook", "address_not_allowed"),
        ("http://224.0.0.1/hook", "address_not_allowed"),
        ("http://localhost:8080/hook", "address_not_allowed"),
        ("https://user:pw@example.com/hook", "invalid_url"),
        ("http://no-such-host.invalid/hook", "unresolvable_host"),
    ],
)
async def test_ssrf_refusals_at_registration(strict: World, url: str, code: str) -> None:
    admin = await admin_of(strict)
    response = await strict.client.post("/webhooks", json=body(url=url), headers=admin)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["fields"][0]["field"] == "url"
    async with strict.runtime.sessionmaker() as session:
        assert (await session.scalar(sa.select(sa.func.count()).select_from(Webhook))) == 0


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1/x", "ftp://h/x"])
async def test_other_schemes_are_refused(strict: World, url: str) -> None:
    response = await strict.client.post(
        "/webhooks", json=body(url=url), headers=await admin_of(strict)
    )
    refused(response, "url")


async def test_loopback_allowed_by_the_setting(world: World) -> None:
    admin = await admin_of(world)
    for url in ("http://127.0.0.1:9/hook", "http://localhost:9/hook"):
        response = await world.client.post("/webhooks", json=body(url=url), headers=admin)
        assert response.status_code == 201, response.text
    # Metadata stays refused: the setting names 127.0.0.0/8 only.
    metadata = await world.client.post(
        "/webhooks", json=body(url="http://169.254.169.254/"), headers=admin
    )
    assert metadata.status_code == 422
    assert metadata.json()["error"]["code"] == "address_not_allowed"


async def test_patch_changes_checks_versions_and_reenables(world: World) -> None:
    admin = await admin_of(world)
    created = (await world.client.post("/webhooks", json=body(), headers=admin)).json()
    path = f"/webhooks/{created['id']}"
    changed = await world.client.patch(
        path,
        json={"name": "ERP", "event_types": ["ticket.closed", "ticket.created"], "version": 1},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert changed.json()["event_types"] == ["ticket.closed", "ticket.created"]
    stale = await world.client.patch(path, json={"name": "X", "version": 1}, headers=admin)
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "version_mismatch"
    nulled = await world.client.patch(path, json={"name": None}, headers=admin)
    refused(nulled, "name")
    bad_url = await world.client.patch(path, json={"url": "http://169.254.169.254/"}, headers=admin)
    assert bad_url.status_code == 422
    off = await world.client.patch(path, json={"is_active": False}, headers=admin)
    assert off.json()["state"] == "disabled" and off.json()["disabled_at"]
    async with world.runtime.sessionmaker() as session, session.begin():
        row = await session.get(Webhook, uuid.UUID(created["id"]))
        assert row is not None
        row.failing_since = row.disabled_at
    on = await world.client.patch(path, json={"is_active": True}, headers=admin)
    assert on.status_code == 200
    assert on.json()["state"] == "active"
    assert on.json()["disabled_at"] is None and on.json()["failing_since"] is None
    new_secret = await world.client.patch(path, json={"secret": "n" * 20}, headers=admin)
    assert new_secret.status_code == 200 and "n" * 20 not in new_secret.text
    async with world.runtime.sessionmaker() as session:
        row = await session.get(Webhook, uuid.UUID(created["id"]))
    assert row is not None and world.runtime.cipher.decrypt(row.secret_encrypted) == "n" * 20


async def test_list_pages_and_delete(world: World) -> None:
    admin = await admin_of(world)
    for index in range(3):
        await world.client.post("/webhooks", json=body(name=f"zz page {index}"), headers=admin)
    seen: list[str] = []
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await world.client.get("/webhooks", params=params, headers=admin)).json()
        seen.extend(item["name"] for item in page["items"])
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen) and len(ids) == len(set(ids))  # in order, none twice
    assert {"zz page 0", "zz page 1", "zz page 2"} <= set(seen)
    webhook_id = (await world.client.post("/webhooks", json=body(), headers=admin)).json()["id"]
    gone = await world.client.delete(f"/webhooks/{webhook_id}", headers=admin)
    assert gone.status_code == 204
    assert (await world.client.get(f"/webhooks/{webhook_id}", headers=admin)).status_code == 404
    missing = await world.client.get(f"/webhooks/{uuid.uuid4()}/deliveries", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "webhook_not_found"


@pytest.mark.parametrize("role", ["requester", "agent", "leader"])
async def test_only_administrators(world: World, role: str) -> None:
    person: Person = await world.person(role, unit_id=await world.unit())  # type: ignore[arg-type]
    for method, path in (
        ("GET", "/webhooks"),
        ("GET", "/webhooks/event-types"),
        ("POST", "/webhooks"),
    ):
        response = await world.client.request(
            method, path, json=body() if method == "POST" else None, headers=person.headers
        )
        assert response.status_code == 403, (role, path, response.text)


async def test_migration_matches_the_models(world: World) -> None:
    """Migration 0004 creates the webhooks tables as the models declare them."""
    async with world.runtime.engine.connect() as connection:
        differences = await connection.run_sync(model_differences, metadata)
    mine = [d for d in differences if "webhook" in repr(d)]
    assert mine == []


async def test_done_deliveries_are_purged_after_the_retention(world: World) -> None:
    admin = await admin_of(world)
    webhook_id = uuid.UUID(
        (await world.client.post("/webhooks", json=body(), headers=admin)).json()["id"]
    )
    async with world.runtime.sessionmaker() as session, session.begin():
        made = [await service.ping(session, webhook_id=webhook_id) for _ in range(4)]
        old = datetime.now(UTC) - timedelta(days=40)
        statuses = ("succeeded", "failed", "retrying", "succeeded")
        for delivery, status in zip(made, statuses, strict=True):
            delivery.status = status
            delivery.lease_until = datetime.now(UTC) + timedelta(hours=1)  # no sender takes it
            if delivery is not made[-1]:
                delivery.created_at = old
    async with world.runtime.sessionmaker() as session, session.begin():
        purged = await service.purge_log(session, older_than=timedelta(days=30))
    assert purged == 2
    async with world.runtime.sessionmaker() as session:
        left = (
            await session.scalars(
                sa.select(WebhookDelivery.status).where(WebhookDelivery.webhook_id == webhook_id)
            )
        ).all()
    assert sorted(left) == ["retrying", "succeeded"]  # outstanding or recent stay
