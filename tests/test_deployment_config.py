"""docker-compose.yml stays true to the code: images, health checks, settings, scaling.

There is no Docker engine on the CI machine, so the compose file is checked here against the
code it runs: every environment variable it sets must be read by that service's settings.
"""

from __future__ import annotations

from pathlib import Path

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
