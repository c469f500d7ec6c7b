"""The OpenAPI document is a contract: schemathesis fuzzes every operation of every service
through the gateway, as a client generating code from ``/api/openapi.json`` would call it.

Every check schemathesis has (server errors, response schemas and headers, undocumented
status codes and content types, schema-valid requests rejected and schema-violating ones
accepted, the stateful checks) runs in all phases (examples, coverage, fuzzing, and the
stateful phase that chains operations by their responses), with a fixed seed and a bounded
number of examples per operation, so that a run is reproducible and takes about a minute.
It runs once as an administrator (who may call nearly everything) and once as a requester
(who is refused much: the refusals must be declared too).

The fuzzer gets a system of its own (started the README's way, its own database): it
creates, changes and deletes whatever it may, and a shared system would carry that into
other tests. The gateway's rate limit is raised for it (the fuzzer's requests are one
client's; 429 is declared on every operation all the same).

Run it alone, with more examples (see docs/architecture.md, "API contract")::

    CONTRACT_EXAMPLES=100 CONTRACT_SEED=7 uv run pytest tests/test_api_contract.py
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from helpdesk_testing import LocalSystem, local_system

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / "tests" / "contract" / "hooks.py"
# The failures known and not fixed yet, each with its reason (docs/architecture.md, "API
# contract"): a run fails on any other. CONTRACT_BASELINE_UPDATE=1 adds a run's failures.
BASELINE = ROOT / "tests" / "contract" / "baseline.json"
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "5"))
SEED = int(os.environ.get("CONTRACT_SEED", "20261205"))
# Operations the fuzzer cannot call meaningfully, and why:
EXCLUDED_PATHS = [
    # The live event streams never end (server-sent events): a request would hang until
    # the fuzzer's timeout; they are tested by the live-page tests.
    r"/stream$",
    # Logging out ends the session the fuzzer's token belongs to, and changing the own
    # password does too: the rest of the run would test only 401s.
    r"^/api/identity/auth/logout$",
    r"^/api/identity/auth/me/password$",
]

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
async def contract_system(
    tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> AsyncIterator[LocalSystem]:
    async with local_system(
        root=ROOT,
        state_dir=tmp_path_factory.mktemp("contract-state"),
        run_id=f"{run_id}c",
        extra_env={
            "GATEWAY_RATE_LIMIT_PER_SECOND": "1000",
            "GATEWAY_RATE_LIMIT_BURST": "5000",
        },
    ) as started:
        yield started


@pytest.fixture(scope="module")
async def tokens(contract_system: LocalSystem) -> dict[str, str]:
    """Both callers signed in before any fuzzing: the administrator's run may reset any
    password it finds (the administrator's own among them)."""
    gateway = contract_system.gateway_url
    async with httpx.AsyncClient(timeout=30) as http:
        admin = await _login(http, gateway, "admin", contract_system.admin_password)
        return {"admin": admin, "requester": await _requester(http, gateway, admin)}


async def _login(http: httpx.AsyncClient, gateway: str, username: str, password: str) -> str:
    response = await http.post(
        f"{gateway}/api/identity/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _requester(http: httpx.AsyncClient, gateway: str, admin: str) -> str:
    """A requester of a unit of their own, signed in."""
    headers = {"Authorization": f"Bearer {admin}"}
    tag = uuid.uuid4().hex[:8]
    unit = await http.post(
        f"{gateway}/api/identity/units",
        json={"code": f"KONTRAK-{tag}", "name": "Dinas Kontrak"},
        headers=headers,
    )
    assert unit.status_code == 201, unit.text
    password = f"Kontrak-{uuid.uuid4().hex}"
    user = await http.post(
        f"{gateway}/api/identity/users",
        json={
            "username": f"pemohon{tag}",
            "full_name": "Pemohon Kontrak",
            "role": "requester",
            "unit_id": unit.json()["id"],
            "password": password,
        },
        headers=headers,
    )
    assert user.status_code == 201, user.text
    return await _login(http, gateway, f"pemohon{tag}", password)


async def _fuzz(gateway: str, token: str, report: Path, examples: int) -> tuple[int, str]:
    """Run schemathesis's CLI (its output reproduces each failure with curl)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{gateway}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        # Replaced by tests/contract/hooks.py's positive_data_acceptance_beyond_schema: the
        # same check, passing only refusals by rules no schema can state (listed there).
        "--exclude-checks",
        "positive_data_acceptance",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(examples),
        "--seed",
        str(SEED),
        # Deterministic generation (and no example database): the same cases every run.
        "--generation-deterministic",
        "--request-timeout",
        "30",
        # One worker: hypothesis parses source with ``ast`` as it describes strategies, and
        # two threads doing that at once on CPython 3.11.7 sometimes fail with "AST
        # constructor recursion depth mismatch" (seen here), failing a run for nothing.
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        "--exclude-path-regex",
        "|".join(EXCLUDED_PATHS),
        "--baseline",
        str(BASELINE),
        *(["--baseline-update"] if os.environ.get("CONTRACT_BASELINE_UPDATE") else []),
        # Its working directory gets schemathesis's crash cache (.schemathesis/): the test's
        # own, so that no run replays another's cases and nothing lands in the repository.
        cwd=report.parent,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


def _failures(output: str) -> str:
    """The failures part of the output: per operation, each check that failed and a curl
    command reproducing it (tokens are shown as ``[Filtered]``)."""
    match = re.search(r"^=+ (FAILURES|ERRORS) =+$(.*)^=+ SUMMARY =+$", output, re.M | re.S)
    return match.group(0) if match else output[-20000:]


# The requester first: the administrator's run may disable or move the requester.
@pytest.mark.parametrize("role", ["requester", "admin"])
async def test_every_operation_keeps_its_contract(
    contract_system: LocalSystem, tokens: dict[str, str], role: str, tmp_path: Path
) -> None:
    # A requester is refused most operations early: fewer examples find what there is.
    examples = EXAMPLES if role == "admin" else max(2, EXAMPLES // 2)
    gateway = contract_system.gateway_url
    code, output = await _fuzz(gateway, tokens[role], tmp_path / "junit.xml", examples)
    summary = output[output.rfind("=== SUMMARY ===") :] if "SUMMARY" in output else output
    assert code == 0, f"the API broke its contract as {role}:\n{_failures(output)}\n{summary}"
