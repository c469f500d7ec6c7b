"""First start (bootstrap administrator), key handling and start-up refusals."""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest
import sqlalchemy as sa

from helpdesk_common.auth import generate_keypair
from helpdesk_testing import app_client, eventually
from identity.main import create_app
from identity.settings import IdentitySettings

LINE = re.compile(r"^Initial administrator: username=(\S+) password=(\S+)$", re.MULTILINE)


async def test_two_replicas_starting_together_create_one_admin(
    identity_settings, events, capsys, keypair
):
    settings = identity_settings("identity_boot_race", bootstrap_admin_password=None)
    apps = [create_app(settings), create_app(settings)]
    async with contextlib.AsyncExitStack() as stack:
        clients = await asyncio.gather(
            *(stack.enter_async_context(app_client(app)) for app in apps)
        )
        printed = LINE.findall(capsys.readouterr().out)
        assert len(printed) == 1
        username, password = printed[0]
        assert username == "admin"

        login = await clients[1].post(
            "/auth/login", json={"username": username, "password": password}
        )
        assert login.status_code == 200, login.text
        body = login.json()
        assert body["user"]["must_change_password"] is True
        token = {"Authorization": f"Bearer {body['access_token']}"}
        admins = await clients[0].get("/users", params={"role": "admin"}, headers=token)
        assert len(admins.json()["items"]) == 1

        admin_id = body["user"]["id"]
        await eventually(lambda: any(e.payload.get("user_id") == admin_id for e in events))
        await asyncio.sleep(0.3)
        created = [e for e in events if e.payload.get("user_id") == admin_id]
        assert [e.event_type for e in created] == ["user.created"]
        assert created[0].payload["role"] == "admin"

    # A restart finds the administrator and creates nobody.
    async with app_client(create_app(settings)):
        assert LINE.findall(capsys.readouterr().out) == []


async def test_configured_admin_password_is_used_and_not_printed(identity_settings, capsys):
    settings = identity_settings(
        "identity_boot_configured",
        bootstrap_admin_username="superadmin",
        bootstrap_admin_email="it@bukittinggikota.go.id",
        bootstrap_admin_password="Sangat-Rahasia-9",
    )
    async with app_client(create_app(settings)) as client:
        out = capsys.readouterr().out
        assert "Initial administrator: username=superadmin (password from settings)" in out
        assert "Sangat-Rahasia-9" not in out
        login = await client.post(
            "/auth/login", json={"username": "superadmin", "password": "Sangat-Rahasia-9"}
        )
        assert login.status_code == 200
        user = login.json()["user"]
        assert (user["email"], user["must_change_password"]) == ("it@bukittinggikota.go.id", False)


async def test_without_a_private_key_outside_production_a_key_is_generated(
    identity_settings, capsys
):
    settings = identity_settings("identity_boot_nokey", jwt_private_key="", jwt_public_key="")
    app = create_app(settings)
    async with app_client(app) as client:
        public = (await client.get("/auth/public-key")).json()["public_key"]
        login = await client.post(
            "/auth/login", json={"username": "admin", "password": "Admin-Pass-123"}
        )
        token = login.json()["access_token"]
        me = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
    assert public == app.state.runtime.settings.jwt_public_key
    # The app configures logging to stdout (replacing pytest's log capture).
    assert "throw-away key" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"jwt_private_key": ""}, "jwt_private_key"),
        ({"bootstrap_admin_password": "password"}, "bootstrap_admin_password"),
        ({"bootstrap_admin_password": "ChangeMe"}, "bootstrap_admin_password"),
    ],
)
def test_production_refuses_unsafe_secrets(identity_settings, overrides, message):
    settings = identity_settings("identity_boot_prod", environment="production", **overrides)
    with pytest.raises(ValueError, match=message):
        create_app(settings)


def test_short_bootstrap_password_is_refused(identity_settings):
    with pytest.raises(ValueError, match="at least 8"):
        create_app(identity_settings("identity_boot_short", bootstrap_admin_password="abc"))


def test_public_key_that_does_not_match_the_private_key_is_refused(identity_settings):
    _, other_public = generate_keypair()
    with pytest.raises(ValueError, match="does not belong"):
        create_app(identity_settings("identity_boot_mismatch", jwt_public_key=other_public))


async def test_private_key_can_come_from_a_file(identity_settings, keypair, tmp_path):
    key_file = tmp_path / "identity.pem"
    key_file.write_text(keypair[0])
    settings = identity_settings(
        "identity_boot_file", jwt_private_key="", jwt_private_key_file=key_file
    )
    app = create_app(settings)
    async with app_client(app) as client:
        public = (await client.get("/auth/public-key")).json()["public_key"]
    assert public.split() == keypair[1].split()


def test_empty_environment_values_mean_unset(monkeypatch):
    monkeypatch.setenv("IDENTITY_BOOTSTRAP_ADMIN_PASSWORD", "")
    monkeypatch.setenv("IDENTITY_BOOTSTRAP_ADMIN_EMAIL", "")
    monkeypatch.setenv("IDENTITY_LOGIN_DELAY_AFTER_FAILURES", "7")
    monkeypatch.setenv("IDENTITY_TRUSTED_PROXIES", "10.1.2.3, 10.9.0.0/16")
    settings = IdentitySettings()
    assert settings.bootstrap_admin_password is None
    assert settings.bootstrap_admin_email is None
    assert settings.login_delay_after_failures == 7
    assert settings.trusted_proxies == ["10.1.2.3", "10.9.0.0/16"]
    assert settings.service_name == "identity"
    settings.check_secrets()


async def test_bootstrap_username_taken_by_a_non_admin_stops_the_start(identity_settings):
    settings = identity_settings("identity_boot_taken")
    app = create_app(settings)
    async with app_client(app) as client:
        login = await client.post(
            "/auth/login", json={"username": "admin", "password": "Admin-Pass-123"}
        )
        token = {"Authorization": f"Bearer {login.json()['access_token']}"}
        created = await client.post(
            "/users",
            json={"username": "helper", "full_name": "Helper", "role": "agent"},
            headers=token,
        )
        assert created.status_code == 201
        # No administrator left (an operator's mistake in the database, say).
        async with app.state.runtime.sessionmaker() as session, session.begin():
            await session.execute(sa.text("DELETE FROM users WHERE role = 'admin'"))
    again = identity_settings("identity_boot_taken", bootstrap_admin_username="HELPER")
    with pytest.raises(RuntimeError, match="cannot create the initial administrator 'HELPER'"):
        async with app_client(create_app(again)):
            pass


async def test_invalid_bootstrap_email_stops_the_start(identity_settings):
    settings = identity_settings("identity_boot_bad_email", bootstrap_admin_email="nope")
    with pytest.raises(RuntimeError, match="bootstrap administrator"):
        async with app_client(create_app(settings)):
            pass
