"""Sign-in throttling without a lock-out (issue 13, item 2): brute force is slowed and a
spraying address blocked, while the owner signing in from a clean address always gets in;
known and unknown user names look alike; an attack is reported once per window.

Time is the runtime's ``clock``, moved by the tests: no test sleeps through a delay.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from helpdesk_testing import eventually
from identity.models import AuditEntry, LoginAttempt, User, utcnow
from identity.passwords import Passwords

PASSWORD = "Rahasia-123"
DELAY_AFTER = 3
BASE = 2
CAP = 16
IP_MAX = 12
ALERT = 6
ALERT_WINDOW = 600


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
async def api(start_identity):
    async with start_identity(
        "identity_throttle",
        login_delay_after_failures=DELAY_AFTER,
        login_delay_base_seconds=BASE,
        login_delay_max_seconds=CAP,
        login_ip_max_failures=IP_MAX,
        login_ip_window_seconds=600,
        login_ip_block_seconds=300,
        login_alert_failures=ALERT,
        login_alert_window_seconds=ALERT_WINDOW,
    ) as api:
        yield api


@pytest.fixture
def clock(api) -> Iterator[Clock]:
    runtime = api.app.state.runtime
    clock = Clock()
    runtime.clock = clock
    yield clock
    runtime.clock = utcnow


def retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "too_many_attempts"
    seconds = int(response.headers["Retry-After"])
    assert response.json()["error"]["retry_after"] == seconds
    return seconds


async def test_brute_force_from_one_address_waits_ever_longer_then_the_right_password_works(
    api, clock
):
    user = await api.create_user()
    ip = api.unique_ip()
    for _ in range(DELAY_AFTER):
        assert (await api.login(user["username"], "wrong", ip=ip)).status_code == 401
    waits = []
    for _ in range(5):
        # During the delay nothing is checked: even the right password is turned away.
        waits.append(retry_after(await api.login(user["username"], PASSWORD, ip=ip)))
        clock.advance(waits[-1])
        assert (await api.login(user["username"], "wrong", ip=ip)).status_code == 401
    assert waits == [2, 4, 8, 16, 16]  # doubling, capped at CAP
    wait = retry_after(await api.login(user["username"], "wrong", ip=ip))
    clock.advance(wait - 1)
    assert retry_after(await api.login(user["username"], PASSWORD, ip=ip)) == 1
    clock.advance(1)
    # After the wait the right password works, and the pair starts afresh.
    assert (await api.login(user["username"], PASSWORD, ip=ip)).status_code == 200
    assert (await api.login(user["username"], "wrong", ip=ip)).status_code == 401
    async with api.app.state.runtime.sessionmaker() as session:
        row = await session.get(User, uuid.UUID(user["id"]))
        assert row is not None and row.locked_until is not None  # shown to administrators


async def test_one_address_failing_over_many_names_is_blocked(api, clock):
    ip = api.unique_ip()
    names = [f"spray{uuid.uuid4().hex[:6]}" for _ in range(IP_MAX)]
    for name in names:
        assert (await api.login(name, "Password1", ip=ip)).status_code == 401
    # Blocked for every name, the administrator's right password included...
    assert retry_after(await api.login("admin", api.admin_password, ip=ip)) == 300
    assert retry_after(await api.login(f"x{uuid.uuid4().hex[:6]}", "y", ip=ip)) == 300
    # ...but only this address.
    assert (await api.login("admin", api.admin_password, ip=api.unique_ip())).status_code == 200
    clock.advance(300)
    assert (await api.login("admin", api.admin_password, ip=ip)).status_code == 200


async def test_the_owner_gets_in_from_a_clean_address_whatever_attackers_do(api, clock):
    user = await api.create_user()
    attackers = [api.unique_ip() for _ in range(15)]

    async def attack(ip: str) -> list[int]:
        return [
            (await api.login(user["username"], f"guess{n}", ip=ip)).status_code
            for n in range(DELAY_AFTER + 2)
        ]

    # The attack runs while the owner signs in, and again after it has slowed every
    # attacking address: the owner is never refused or kept waiting.
    owner_during, *during = await asyncio.gather(
        api.login(user["username"], PASSWORD, ip=api.unique_ip()),
        *(attack(ip) for ip in attackers),
    )
    assert owner_during.status_code == 200, owner_during.text
    assert all(statuses[-1] == 429 for statuses in during)
    started = time.monotonic()
    owner_after = await api.login(user["username"], PASSWORD, ip=api.unique_ip())
    assert owner_after.status_code == 200, owner_after.text
    assert time.monotonic() - started < 2
    # The attackers are still waiting.
    assert (await api.login(user["username"], PASSWORD, ip=attackers[0])).status_code == 429


async def test_unknown_and_real_names_are_answered_alike_in_every_state(api, clock):
    real = (await api.create_user())["username"]
    ghost = f"ghost{uuid.uuid4().hex[:6]}"

    async def transcript(name: str) -> list[tuple[Any, ...]]:
        ip = api.unique_ip()
        seen = []
        for step in range(DELAY_AFTER + 3):
            response = await api.login(name, "wrong", ip=ip)
            seen.append(
                (
                    response.status_code,
                    response.json()["error"],
                    response.headers.get("Retry-After"),
                    response.headers.get("WWW-Authenticate"),
                )
            )
            if step == DELAY_AFTER + 1:
                clock.advance(int(response.headers["Retry-After"]))
        return seen

    real_seen, ghost_seen = await transcript(real), await transcript(ghost)
    assert real_seen == ghost_seen
    assert {status for status, *_ in real_seen} == {401, 429}


async def test_an_unknown_name_costs_the_same_password_check():
    """The dummy hash has the real parameters: timing does not tell whether a name exists."""
    passwords = Passwords(time_cost=2, memory_cost_kib=32768, parallelism=1)
    real = await passwords.hash(PASSWORD)

    async def median(password_hash: str | None) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            assert not await passwords.verify(password_hash, "wrong")
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    known, unknown = await median(real), await median(None)
    assert 0.5 < unknown / known < 2, (known, unknown)


async def test_an_attack_is_reported_once_per_window(api, clock, events):
    user = await api.create_user()
    name = user["username"]

    async def fail_from_new_addresses(count: int) -> None:
        for _ in range(count):
            assert (await api.login(name, "wrong", ip=api.unique_ip())).status_code == 401

    def reports() -> list[Any]:
        return [
            e
            for e in events
            if e.event_type == "user.sign_in_attacked" and e.payload["user_id"] == user["id"]
        ]

    async def audited() -> list[AuditEntry]:
        async with api.app.state.runtime.sessionmaker() as session:
            rows = await session.scalars(
                sa.select(AuditEntry).where(
                    AuditEntry.action == "user.sign_in_attacked",
                    AuditEntry.entity_id == user["id"],
                )
            )
            return list(rows)

    await fail_from_new_addresses(ALERT - 1)
    await asyncio.sleep(0.5)
    assert reports() == [] and await audited() == []
    await fail_from_new_addresses(1)
    (report,) = await eventually(reports)
    assert report.payload["username"] == name
    assert report.payload["failures"] == ALERT
    assert report.payload["addresses"] == ALERT
    (entry,) = await audited()
    assert entry.actor_id is None and entry.after is not None
    assert entry.after["failures"] == ALERT and len(entry.after["addresses"]) == ALERT
    # The attack goes on within the window: nobody is told again.
    await fail_from_new_addresses(ALERT)
    await asyncio.sleep(0.5)
    assert len(reports()) == 1 and len(await audited()) == 1
    # In a later window, it is reported again.
    clock.advance(ALERT_WINDOW + 1)
    await fail_from_new_addresses(ALERT)
    await eventually(lambda: len(reports()) == 2)
    assert len(await audited()) == 2


async def test_an_administrators_password_reset_ends_the_waits(api, clock):
    user = await api.create_user()
    ip = api.unique_ip()
    for _ in range(DELAY_AFTER):
        await api.login(user["username"], "wrong", ip=ip)
    assert retry_after(await api.login(user["username"], PASSWORD, ip=ip)) == BASE
    reset = await api.client.post(
        f"/users/{user['id']}/reset-password",
        json={"new_password": "Baru-Sekali-9"},
        headers=await api.admin_headers(),
    )
    assert reset.status_code == 200, reset.text
    assert (await api.login(user["username"], "Baru-Sekali-9", ip=ip)).status_code == 200


async def test_a_reset_does_not_wait_for_a_sign_in_in_flight(api, clock):
    """A sign-in holds its pair's row and then wants the user's; a reset holds the user's
    row: it skips a pair in use instead of waiting for it (they would deadlock)."""
    user = await api.create_user()
    name, busy, idle = user["username"].lower(), api.unique_ip(), api.unique_ip()
    for ip in (busy, idle):
        for _ in range(DELAY_AFTER):
            await api.login(user["username"], "wrong", ip=ip)
    async with api.app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            sa.select(LoginAttempt)
            .where(LoginAttempt.username == name, LoginAttempt.ip == busy)
            .with_for_update()
        )
        reset = await asyncio.wait_for(
            api.client.post(
                f"/users/{user['id']}/reset-password",
                json={"new_password": "Baru-Sekali-9"},
                headers=await api.admin_headers(),
            ),
            timeout=5,
        )
        assert reset.status_code == 200, reset.text
    assert (await api.login(user["username"], "Baru-Sekali-9", ip=idle)).status_code == 200
    assert retry_after(await api.login(user["username"], "Baru-Sekali-9", ip=busy)) == BASE
