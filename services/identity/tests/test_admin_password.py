"""The printed administrator password must work (issue 13, item 7): a start over a database
that kept its administrator with another password says so and how to reset it; the reset
command (``python -m identity.admin reset-password``, and ``scripts/reset-admin-password`` of
the local runner, which saves it where ``scripts/up`` prints it from) sets a password that
signs in, ends the administrator's sessions and is in the audit log."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from identity.admin import ADMIN_EXISTS, UnknownUser, main, reset_password
from identity.settings import IdentitySettings

ROOT = Path(__file__).resolve().parents[3]
FIRST = "Pertama-Rahasia-1"
OTHER = "Kedua-Rahasia-22"


async def run(*command: str, env: dict[str, str], stdin: str = "") -> tuple[int, str]:
    """A command as an operator would run it, with the service's settings in the environment."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


def settings_env(settings: IdentitySettings) -> dict[str, str]:
    return {
        "IDENTITY_DATABASE_URL": settings.database_url,
        "IDENTITY_DB_SCHEMA": settings.schema_name,
    }


async def audit_of(api: Any, token: str) -> list[dict[str, Any]]:
    response = await api.client.get(
        "/audit-log", params={"action": "user.password_reset"}, headers=api.bearer(token)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_start_over_an_administrator_with_another_password_says_so(
    start_identity, capsys
) -> None:
    schema = "identity_admin_kept"
    async with start_identity(schema, bootstrap_admin_password=FIRST):
        assert "Initial administrator: username=admin" in capsys.readouterr().out

    # A second clone (or .local/ deleted): another password file, the same database.
    async with start_identity(schema, bootstrap_admin_password=OTHER) as api:
        out = capsys.readouterr().out
        notice = [line for line in out.splitlines() if line.startswith(ADMIN_EXISTS)]
        assert len(notice) == 1, out
        assert "its password is not the configured one" in notice[0]
        assert "scripts/reset-admin-password" in notice[0]
        assert "python -m identity.admin reset-password admin" in notice[0]
        assert OTHER not in out and FIRST not in out
        assert (await api.login("admin", OTHER, ip=api.unique_ip())).status_code == 401
        assert (await api.login("admin", FIRST, ip=api.unique_ip())).status_code == 200

    # The password that does sign in: nothing to say.
    async with start_identity(schema, bootstrap_admin_password=FIRST):
        assert ADMIN_EXISTS not in capsys.readouterr().out


async def test_the_reset_command_sets_a_password_that_signs_in(
    start_identity, identity_settings, tmp_path: Path
) -> None:
    schema = "identity_admin_reset"
    env = settings_env(identity_settings(schema))
    async with start_identity(schema, bootstrap_admin_password=FIRST) as api:
        session = (await api.login("admin", FIRST, ip=api.unique_ip())).json()

        # A chosen password, from standard input, saved for the local runner.
        saved = tmp_path / "state" / "admin-password"
        code, out = await run(
            sys.executable,
            "-m",
            "identity.admin",
            "reset-password",
            "admin",
            "--password-stdin",
            "--save-to",
            str(saved),
            env=env,
            stdin=f"{OTHER}\n",
        )
        assert code == 0, out
        assert OTHER not in out
        assert saved.read_text() == OTHER
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        login = await api.login("admin", OTHER, ip=api.unique_ip())
        assert login.status_code == 200, login.text
        assert login.json()["user"]["must_change_password"] is False
        assert (await api.login("admin", FIRST, ip=api.unique_ip())).status_code == 401
        # Every session of the administrator has ended.
        refreshed = await api.client.post(
            "/auth/refresh", json={"refresh_token": session["refresh_token"]}
        )
        assert refreshed.status_code == 401
        entries = await audit_of(api, login.json()["access_token"])
        assert entries and entries[0]["actor_name"] == "system"
        assert entries[0]["entity_id"] == login.json()["user"]["id"]

        # Without one: generated, printed once, to be changed at the next sign-in.
        code, out = await run(sys.executable, "-m", "identity.admin", "reset-password", env=env)
        assert code == 0, out
        generated = out.split("password=", 1)[1].split()[0]
        login = await api.login("admin", generated, ip=api.unique_ip())
        assert login.status_code == 200, login.text
        assert login.json()["user"]["must_change_password"] is True

        # Refusals say why and change nothing.
        runtime = api.app.state.runtime
        with pytest.raises(UnknownUser):
            async with runtime.sessionmaker() as db, db.begin():
                await reset_password(
                    db, passwords=runtime.passwords, username="nobody", new_password=None
                )
        with pytest.raises(SystemExit, match="the new password is refused"):
            main(["reset-password", "--password-stdin"], stdin=io.StringIO("pendek\n"))
        assert (await api.login("admin", generated, ip=api.unique_ip())).status_code == 200


async def test_the_local_runners_reset_saves_what_scripts_up_prints(
    start_identity, identity_settings, tmp_path: Path
) -> None:
    """scripts/reset-admin-password, as the banner of scripts/up tells a user to run it,
    against this test's database: the password it prints and saves signs in."""
    schema = "identity_admin_local"
    settings = identity_settings(schema)
    database = urlsplit(settings.database_url).path.lstrip("/")
    async with start_identity(schema, bootstrap_admin_password=FIRST) as api:
        state = tmp_path / "state"
        code, out = await run(
            "scripts/reset-admin-password",
            "--state-dir",
            str(state),
            "--database",
            database,
            env={"IDENTITY_DB_SCHEMA": settings.schema_name},
        )
        assert code == 0, out
        password = (state / "admin-password").read_text()
        assert f"admin / {password} (saved in {state / 'admin-password'})" in out
        login = await api.login("admin", password, ip=api.unique_ip())
        assert login.status_code == 200, login.text
        assert login.json()["user"]["must_change_password"] is False
