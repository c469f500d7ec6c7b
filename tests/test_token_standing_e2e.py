"""Tokens follow role and unit changes within 5 s in every service, through the whole system
(identity commits the change, its event reaches each service's directory replica, every
process there re-reads the user): an agent made leader can no longer claim with the token
from before, a requester moved to another unit no longer reads the old unit's ticket, a
disabled user is refused; a refreshed token carries the new rights."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from helpdesk_testing import LocalSystem, eventually
from helpdesk_testing.browser import Api, file_ticket, first_category_id, login

PASSWORD = "rahasia-kuat-1"
BOUND = 5.0  # seconds from identity's answer until every service refuses the old token


class Session:
    """A signed-in user's token pair, as the web client holds it."""

    def __init__(self, http: httpx.AsyncClient, gateway: str, pair: dict[str, Any]) -> None:
        self.http, self.gateway, self.pair = http, gateway, pair

    @property
    def api(self) -> Api:
        return Api(self.http, self.gateway, self.pair["access_token"])

    async def refreshed(self) -> Api:
        response = await self.http.post(
            f"{self.gateway}/api/identity/auth/refresh",
            json={"refresh_token": self.pair["refresh_token"]},
        )
        assert response.status_code == 200, response.text
        self.pair = response.json()
        return self.api


async def sign_in(http: httpx.AsyncClient, gateway: str, username: str) -> Session:
    response = await http.post(
        f"{gateway}/api/identity/auth/login", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return Session(http, gateway, response.json())


def probes(ticket_id: str) -> dict[str, str]:
    """A read every role may make, in each service."""
    return {
        "identity": "/api/identity/auth/me",
        "tickets": f"/api/tickets/tickets/{ticket_id}",
        "reports": "/api/reports/summary",
        "notifications": "/api/notifications/notifications/unread-count",
        "attachments": "/api/attachments/policy",
    }


async def refused_everywhere(api: Api, ticket_id: str, code: str, *, since: float) -> float:
    """Polls every service until each refuses the token with 401 ``code``; the seconds it
    took since ``since``."""

    async def refused(path: str) -> float:
        async def check() -> bool:
            response = await api.call("GET", path)
            if response.status_code == 401:
                assert response.json()["error"]["code"] == code, (path, response.text)
                return True
            return False

        await eventually(check, timeout=BOUND + 5, interval=0.05)
        return time.monotonic() - since

    waited = await asyncio.gather(*(refused(path) for path in probes(ticket_id).values()))
    return max(waited)


async def accepted_everywhere(api: Api, ticket_id: str) -> None:
    for service, path in probes(ticket_id).items():
        response = await api.call("GET", path)
        assert response.status_code == 200, (service, response.status_code, response.text)


async def test_role_and_unit_changes_and_disabling_reach_every_service(
    system: LocalSystem, http: httpx.AsyncClient
):
    gateway = system.gateway_url
    admin = await login(http, gateway, "admin", system.admin_password)
    tag = uuid.uuid4().hex[:6]
    first, second = [
        await admin.ok(
            "POST",
            "/api/identity/units",
            json={"code": f"{code}{tag}".upper(), "name": f"Dinas {code} {tag}"},
        )
        for code in ("DISKES", "DISHUB")
    ]
    users: dict[str, dict[str, Any]] = {}
    for kind, role, unit in (("agent", "agent", None), ("requester", "requester", first)):
        users[kind] = await admin.ok(
            "POST",
            "/api/identity/users",
            json={
                "username": f"{kind}{tag}",
                "full_name": f"{kind.title()} {tag}",
                "role": role,
                "unit_id": unit["id"] if unit else None,
                "password": PASSWORD,
            },
        )
    agent = await sign_in(http, gateway, f"agent{tag}")
    requester = await sign_in(http, gateway, f"requester{tag}")
    category_id = await first_category_id(agent.api)
    to_claim, of_first_unit = [
        await file_ticket(
            requester.api,
            title=f"Printer ruang {n} tidak bisa mencetak",
            description="Lampu indikator berkedip merah sejak pagi.",
            category_id=category_id,
        )
        for n in (1, 2)
    ]
    await accepted_everywhere(agent.api, to_claim["id"])
    await accepted_everywhere(requester.api, of_first_unit["id"])

    # An agent made leader: the old token is refused everywhere within the bound...
    old_agent = agent.api
    started = time.monotonic()
    await admin.ok("PATCH", f"/api/identity/users/{users['agent']['id']}", json={"role": "leader"})
    waited = await refused_everywhere(old_agent, to_claim["id"], "token_outdated", since=started)
    assert waited <= BOUND, f"{waited:.1f} s"
    claim = f"/api/tickets/tickets/{to_claim['id']}/claim"
    outdated = await old_agent.call("POST", claim)
    assert outdated.status_code == 401 and outdated.json()["error"]["code"] == "token_outdated"
    # ... and the refreshed one carries the new role: a leader may not claim.
    leader = await agent.refreshed()
    assert agent.pair["user"]["role"] == "leader"
    forbidden = await leader.call("POST", claim)
    assert forbidden.status_code == 403, forbidden.text
    await accepted_everywhere(leader, to_claim["id"])

    # A requester moved to another unit: the old token no longer reads the old unit's ticket.
    old_requester = requester.api
    started = time.monotonic()
    await admin.ok(
        "PATCH", f"/api/identity/users/{users['requester']['id']}", json={"unit_id": second["id"]}
    )
    waited = await refused_everywhere(
        old_requester, of_first_unit["id"], "token_outdated", since=started
    )
    assert waited <= BOUND, f"{waited:.1f} s"
    moved = await requester.refreshed()
    assert requester.pair["user"]["unit_id"] == second["id"]
    other_units = await moved.call("GET", f"/api/tickets/tickets/{of_first_unit['id']}")
    assert other_units.status_code == 404, other_units.text

    # Disabled: refused everywhere as before, and no refresh.
    started = time.monotonic()
    await admin.ok("POST", f"/api/identity/users/{users['requester']['id']}/disable")
    waited = await refused_everywhere(moved, of_first_unit["id"], "account_disabled", since=started)
    assert waited <= BOUND, f"{waited:.1f} s"
    response = await http.post(
        f"{gateway}/api/identity/auth/refresh",
        json={"refresh_token": requester.pair["refresh_token"]},
    )
    assert response.status_code == 401, response.text
