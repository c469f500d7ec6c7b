"""Issue 13, item 3, on the whole system started the README's way: a client cannot pick the
address it is counted under, and no password, hash or token reaches any process's log,
whatever fails (a refused insert, wrong passwords, bad tokens, a reused refresh token, a
password change, an SMTP password)."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import asyncpg
import httpx

from helpdesk_testing import LocalSystem
from helpdesk_testing.browser import Api, login
from helpdesk_testing.env import PG_ADMIN_DSN

JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# The insert the database refuses (a trigger of this test): any failure of a user's insert.
REFUSED_NAME = "Ditolak Basis Data"


async def new_user(admin: Api, tag: str, password: str, **fields: object) -> httpx.Response:
    return await admin.call(
        "POST",
        "/api/identity/users",
        json={
            "username": f"rahasia{tag}",
            "full_name": "Rina Rahasia",
            "email": f"rahasia-{tag}@kominfo.example.go.id",
            "role": "agent",
            "password": password,
            **fields,
        },
    )


async def test_a_forwarded_address_from_a_client_is_not_believed(
    system: LocalSystem, http: httpx.AsyncClient
):
    """Wrong passwords, each claiming another address: all count under the client's real
    one, so the name and address must wait after the fifth (IDENTITY_LOGIN_DELAY_AFTER_*)."""
    gateway = system.gateway_url
    admin = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:8]
    assert (await new_user(admin, tag, "Benar-Sekali-1")).status_code == 201
    url = f"{gateway}/api/identity/auth/login"
    for n in range(5):
        spoofed = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
        wrong = await http.post(
            url, json={"username": f"rahasia{tag}", "password": "salah"}, headers=spoofed
        )
        assert wrong.status_code == 401, wrong.text
    spoofed = {"X-Forwarded-For": "198.51.100.99"}
    waiting = await http.post(
        url, json={"username": f"rahasia{tag}", "password": "Benar-Sekali-1"}, headers=spoofed
    )
    assert waiting.status_code == 429, waiting.text
    assert waiting.json()["error"]["code"] == "too_many_attempts"
    assert int(waiting.headers["Retry-After"]) >= 1


async def test_no_secret_hash_or_token_reaches_a_log(system: LocalSystem, http: httpx.AsyncClient):
    assert system.state_dir is not None and system.database is not None
    gateway = system.gateway_url
    tag = uuid.uuid4().hex[:8]
    secrets: set[str] = {system.admin_password}
    first = await http.post(
        f"{gateway}/api/identity/auth/login",
        json={"username": "admin", "password": system.admin_password},
    )
    admin = Api(http, gateway, first.json()["access_token"])
    secrets |= {first.json()["access_token"], first.json()["refresh_token"]}

    # A user's insert the database refuses (here a trigger; a race or any DB error alike).
    refused_password = f"Ditolak-{tag}"
    secrets.add(refused_password)
    async with refusing_inserts(system.database):
        refused = await new_user(admin, tag, refused_password, full_name=REFUSED_NAME)
    assert refused.status_code == 500, refused.text

    # Two creates with one e-mail address at once: one of them loses.
    racing = [f"Balapan-{tag}-{n}" for n in range(2)]
    secrets |= set(racing)
    both = await asyncio.gather(
        *(
            new_user(admin, f"{tag}{n}", password, email=f"sama-{tag}@kominfo.example.go.id")
            for n, password in enumerate(racing)
        )
    )
    assert sorted(r.status_code for r in both) == [201, 409], [r.text for r in both]
    username = f"rahasia{tag}{[r.status_code for r in both].index(201)}"
    password = racing[[r.status_code for r in both].index(201)]

    # A retried create with an Idempotency-Key (its response is stored) and its replay.
    keyed_password = f"Berkunci-{tag}"
    secrets.add(keyed_password)
    for _ in range(2):
        keyed = await admin.call(
            "POST",
            "/api/identity/users",
            headers={"Idempotency-Key": f"key-{tag}"},
            json={
                "username": f"berkunci{tag}",
                "full_name": "Kunci",
                "email": f"kunci-{tag}@kominfo.example.go.id",
                "role": "agent",
                "password": keyed_password,
            },
        )
        assert keyed.status_code == 201, keyed.text

    # Wrong passwords, an unknown name; then the right one.
    wrong = [f"Salah-{tag}-{n}" for n in range(3)]
    secrets |= set(wrong)
    for guess in wrong:
        response = await http.post(
            f"{gateway}/api/identity/auth/login", json={"username": username, "password": guess}
        )
        assert response.status_code == 401
    await http.post(
        f"{gateway}/api/identity/auth/login",
        json={"username": f"hantu{tag}", "password": wrong[0]},
    )
    pair = (
        await http.post(
            f"{gateway}/api/identity/auth/login", json={"username": username, "password": password}
        )
    ).json()
    secrets |= {pair["access_token"], pair["refresh_token"]}

    # Bad tokens: tampered, garbage, and one signed for someone else's use a while ago.
    access = pair["access_token"]
    for token in (access[:-4] + "AAAA", "garbage", access.replace(".", "x", 1)):
        response = await http.get(
            f"{gateway}/api/tickets/tickets", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
    # A refresh, then the used-up refresh token again (the whole session ends).
    rotated = await http.post(
        f"{gateway}/api/identity/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert rotated.status_code == 200
    secrets |= {rotated.json()["access_token"], rotated.json()["refresh_token"]}
    reused = await http.post(
        f"{gateway}/api/identity/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert reused.status_code == 401

    # A password change: first with a wrong current password, then for real.
    user = await login(http, gateway, username, password)
    new_password = f"Baru-{tag}-Sekali"
    secrets |= {user.token, new_password}
    bad = await user.call(
        "POST",
        "/api/identity/auth/me/password",
        json={"current_password": wrong[1], "new_password": new_password},
    )
    assert bad.status_code == 400
    changed = await user.call(
        "POST",
        "/api/identity/auth/me/password",
        json={"current_password": password, "new_password": new_password},
    )
    assert changed.status_code == 200, changed.text
    secrets |= {changed.json()["access_token"], changed.json()["refresh_token"]}

    # An SMTP password saved, used for a test mail, then the settings as they were.
    smtp_password = f"Smtp-{tag}-Rahasia"
    secrets.add(smtp_password)
    path = "/api/notifications/admin/smtp-settings"
    before = await admin.ok("GET", path)
    try:
        await admin.ok(
            "PUT",
            path,
            json={**_writable(before), "username": "mailer", "password": smtp_password},
        )
        await admin.call("POST", f"{path}/test", json={"to": f"uji-{tag}@kominfo.example.go.id"})
    finally:
        await admin.ok("PUT", path, json={**_writable(before), "password": ""})

    # Every hash the database holds now, and the shared internal token.
    connection = await asyncpg.connect(PG_ADMIN_DSN, database=system.database)
    try:
        hashes = await connection.fetch("SELECT password_hash FROM identity.users")
    finally:
        await connection.close()
    secrets |= {row["password_hash"] for row in hashes}
    secrets.add((system.state_dir / "internal-token").read_text().strip())

    await asyncio.sleep(1)  # the processes' last lines reach their log files
    # Every line every process wrote (the runner's own banner, which prints the first
    # administrator's password for the person who started it, is not a log).
    logs = _all_logs(system.state_dir)
    assert refused_password not in logs
    found = sorted(s for s in secrets if s and s in logs)
    assert not found, f"{len(found)} secrets in the logs, e.g. {found[0][:12]}…"
    assert "$argon2" not in logs
    assert not JWT.search(logs)
    # The refused insert was logged (so the check above looked at a real failure's trace).
    assert "refused by the test trigger" in logs


def _writable(settings: dict) -> dict:
    return {key: settings[key] for key in ("host", "port", "security", "username", "sender")}


def _all_logs(state_dir: Path) -> str:
    return "".join(
        path.read_text(errors="replace") for path in sorted((state_dir / "logs").glob("*.log"))
    )


class refusing_inserts:
    """A trigger in the system's identity schema that refuses one user's insert."""

    def __init__(self, database: str) -> None:
        self.database = database

    async def _run(self, sql: str) -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN, database=self.database)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def __aenter__(self) -> None:
        await self._run(
            f"""
            CREATE OR REPLACE FUNCTION identity.refuse_test_insert() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.full_name = '{REFUSED_NAME}' THEN
                RAISE EXCEPTION 'refused by the test trigger';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_test_insert BEFORE INSERT ON identity.users
              FOR EACH ROW EXECUTE FUNCTION identity.refuse_test_insert();
            """
        )

    async def __aexit__(self, *_: object) -> None:
        await self._run(
            "DROP TRIGGER refuse_test_insert ON identity.users;"
            " DROP FUNCTION identity.refuse_test_insert();"
        )
