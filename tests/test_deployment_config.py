"""docker-compose.yml stays true to the code: images, health checks, settings, scaling.

There is no Docker engine on the CI machine, so the compose file is checked here against the
code it runs: every environment variable it sets must be read by that service's settings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from attachments.settings import AttachmentsSettings
from gateway.settings import GatewaySettings
from identity.settings import IdentitySettings
from integrations.settings import IntegrationsSettings
from notifications.settings import NotificationsSettings
from reports.settings import ReportsSettings
from tickets.settings import TicketsSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, type[BaseSettings]] = {
    "identity": IdentitySettings,
    "tickets": TicketsSettings,
    "notifications": NotificationsSettings,
    "reports": ReportsSettings,
    "attachments": AttachmentsSettings,
    "integrations": IntegrationsSettings,
    "gateway": GatewaySettings,
}


def _fields(settings: type[BaseSettings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in settings.model_fields}


def test_build_context_leaves_out_local_state_and_secrets() -> None:
    # The context is the repository root: keys and the admin password in .local/, the venv
    # and the git history must not be sent to the builder (nor end up in a layer).
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".local"} <= ignored


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_is_built_from_its_dockerfile(name: str) -> None:
    service = COMPOSE["services"][name]
    dockerfile = ROOT / service["build"]["dockerfile"]
    assert service["build"]["context"] == "."
    assert dockerfile.exists()
    text = dockerfile.read_text()
    # A cached dependency layer: the lock file is copied and synced before the sources.
    assert text.index("uv.lock") < text.index("uv sync") < text.rindex("COPY")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_environment_variable_is_a_setting(name: str) -> None:
    environment = COMPOSE["services"][name]["environment"]
    unknown = set(environment) - _fields(SERVICES[name])
    assert not unknown, f"{name}: compose sets variables its settings never read: {unknown}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_has_a_health_check_and_can_scale(name: str) -> None:
    service = COMPOSE["services"][name]
    assert "health/ready" in " ".join(service["healthcheck"]["test"])
    assert "container_name" not in service, "a fixed container name prevents --scale"
    if name != "gateway":
        assert "ports" not in service, "a published host port prevents --scale"


def test_services_wait_for_healthy_infrastructure() -> None:
    for name in ("identity", "tickets", "notifications", "reports", "attachments", "integrations"):
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["rabbitmq"]["condition"] == "service_healthy"
        assert depends["keygen"]["condition"] == "service_completed_successfully"
    for infra in ("postgres", "rabbitmq", "s3", "clamav"):
        assert COMPOSE["services"][infra]["healthcheck"]["test"]


def test_forwarded_addresses_are_believed_only_from_the_gateway() -> None:
    """uvicorn's proxy-header rewriting is off everywhere (it trusts 127.0.0.1 by default
    and would undercut the apps' rule), and identity believes only the gateway's address."""
    assert "--no-proxy-headers" in (ROOT / "deploy/Dockerfile").read_text()
    assert '"--no-proxy-headers"' in (ROOT / "deploy/local/up.py").read_text()
    gateway = COMPOSE["services"]["gateway"]
    address = gateway["networks"]["default"]["ipv4_address"]
    identity = COMPOSE["services"]["identity"]["environment"]
    assert identity["IDENTITY_TRUSTED_PROXIES"] == address
    assert "GATEWAY_TRUSTED_PROXIES" not in gateway["environment"]  # no ingress by default


def test_the_gateway_reaches_every_service_and_waits_for_it() -> None:
    """Each service behind the gateway has its URL there and is healthy before it starts."""
    gateway = COMPOSE["services"]["gateway"]
    for name in SERVICES:
        if name == "gateway":
            continue
        assert gateway["environment"][f"GATEWAY_{name.upper()}_URL"] == f"http://{name}:8000"
        assert gateway["depends_on"][name]["condition"] == "service_healthy"


def test_every_service_is_known_to_the_dockerfile() -> None:
    """Every service of the compose file that is built from deploy/Dockerfile is one of the
    SERVICE values the Dockerfile names (its usage line and error message)."""
    text = (ROOT / "deploy/Dockerfile").read_text()
    usage = next(line for line in text.splitlines() if "build with --build-arg SERVICE=" in line)
    named = set(usage.split("SERVICE=", 1)[1].split('"', 1)[0].split("|"))
    assert set(SERVICES) <= named, set(SERVICES) - named


def test_integrations_keeps_its_secrets_in_the_environment_file() -> None:
    environment = COMPOSE["services"]["integrations"]["environment"]
    assert environment["INTEGRATIONS_SECRET_KEY"].startswith("${INTEGRATIONS_SECRET_KEY:-")
    assert environment["INTEGRATIONS_INTERNAL_TOKEN"] == "${INTERNAL_TOKEN:-change-me}"


def test_compose_file_is_valid_for_a_real_compose_implementation(tmp_path: Path) -> None:
    """Debian's docker-compose (scripts/lib.sh ensure_compose_checker) parses and validates
    the file against its Compose specification schema: unknown keys, wrong types, bad
    depends_on conditions and broken references fail here, without a Docker engine."""
    checker = shutil.which("docker-compose")
    assert checker, "docker-compose missing: run scripts/test (it installs Debian's)"
    command = [checker, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml")]
    result = subprocess.run(  # noqa: S603 (a fixed command on the repository's own file)
        [*command, "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _one_shot(service: dict[str, Any]) -> bool:
    """A container meant to run once and exit (the key generator): restart "no"."""
    return str(service.get("restart", "")).lower() == "no"


@pytest.mark.parametrize("name", sorted(COMPOSE["services"]))
def test_every_long_running_container_restarts_and_reports_its_health(name: str) -> None:
    service = COMPOSE["services"][name]
    if _one_shot(service):
        assert "healthcheck" not in service or service["healthcheck"].get("disable")
        return
    assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name
    check = service.get("healthcheck", {})
    assert check.get("test") and not check.get("disable"), f"{name} has no health check"


def _stages(dockerfile: str) -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split into build stages."""
    stages: list[list[str]] = []
    for line in dockerfile.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_the_image_is_multi_stage_slim_and_runs_unprivileged() -> None:
    """Build tools stay in the build stages: the runtime stage starts from the slim image,
    copies in the virtualenv and the installed code, installs no compiler and no uv, and
    runs as a numeric non-root user (Kubernetes' runAsNonRoot can verify it)."""
    text = (ROOT / "deploy/Dockerfile").read_text()
    stages = _stages(text)
    assert len(stages) >= 3
    runtime = stages[-1]
    assert runtime[0].split()[1] == "${PYTHON_IMAGE}"
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    body = " ".join(runtime).lower()
    for tool in ("gcc", "build-essential", "uv sync", "pip install", "git ", "-dev "):
        assert tool not in body, f"the runtime stage installs {tool.strip()}"
    copies = [line for line in runtime if line.upper().startswith("COPY ")]
    assert copies and all("--from=" in line for line in copies), "sources copied into runtime"
    user = [line for line in runtime if line.upper().startswith("USER ")]
    assert user, "the runtime stage must name a user"
    uid = user[-1].split()[1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
