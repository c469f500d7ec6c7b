"""deploy/kubernetes renders, is valid, and keeps the promises of docs/kubernetes.md: offline.

Each kustomization is rendered with `kubectl kustomize` (the kubectl on the PATH and, when
scripts/test unpacked it under .local/, Debian's kubernetes-client 1.20 with its old embedded
Kustomize, which must render the same objects). Every object is validated strictly against
the Kubernetes schemas (kubernetes-validate) or, for the operators' kinds, against their
CRDs' schemas vendored in deploy/kubernetes/schemas/. Then the policies: probes, resources,
non-root, one disruption budget and one autoscaler per Deployment, only the gateway exposed,
NetworkPolicies that let through what the services need and nothing else, every variable a
real setting of its service, KEDA's queues real consumer queues, production images pinned.
"""

from __future__ import annotations

import importlib.util
import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings

from attachments.settings import AttachmentsSettings
from gateway.settings import GatewaySettings
from helpdesk_common.auth import ensure_keypair
from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from helpdesk_ops.settings import BackupSettings
from identity.settings import IdentitySettings
from integrations.settings import IntegrationsSettings
from notifications.settings import NotificationsSettings
from reports.settings import ReportsSettings
from tickets.settings import TicketsSettings

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "kubernetes"
SCHEMAS = K8S / "schemas"
OLD_KUBECTL = ROOT / ".local" / "kubernetes-client" / "usr" / "bin" / "kubectl"
OVERLAYS = ("overlays/dev", "overlays/production")
KUSTOMIZATIONS = (*OVERLAYS, "infrastructure", "prometheus-operator")

Obj = dict[str, Any]

SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "identity": IdentitySettings,
    "tickets": TicketsSettings,
    "notifications": NotificationsSettings,
    "reports": ReportsSettings,
    "attachments": AttachmentsSettings,
    "integrations": IntegrationsSettings,
}
# Scaled on CPU alone (HTTP only, or their consumers are small beside their requests) ...
HPA_SCALED = {"gateway", "identity", "tickets"}
# ... or by KEDA on their main consumer's queue length plus CPU.
KEDA_SCALED = {"notifications", "reports", "attachments", "integrations"}
# Who may call whom besides the gateway (docs/operations.md, "Service-to-service API").
INTERNAL_CALLERS = {
    "tickets": {"reports", "attachments", "integrations"},
    "attachments": {"integrations"},
}
# A generated ConfigMap's or Secret's name ends in a content hash (Kustomize's alphabet).
HASH_SUFFIX = re.compile(r"-[bcdfghkmt2-9]{10}$")


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing: scripts/test installs it (scripts/lib.sh ensure_kubectl)"
    return kubectl


def _render(kubectl: str, kustomization: str) -> list[Obj]:
    # The dev overlay's signing pair is made per machine, as its README tells a developer.
    ensure_keypair(K8S / "overlays" / "dev" / "dev-secrets")
    result = subprocess.run(  # noqa: S603 (our own arguments)
        [kubectl, "kustomize", str(K8S / kustomization)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{kubectl} kustomize {kustomization}: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Obj]]:
    kubectl = _kubectl()
    return {name: _render(kubectl, name) for name in KUSTOMIZATIONS}


def _of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] == kind]


def _named(objects: list[Obj], kind: str, name: str) -> Obj:
    matches = [obj for obj in _of_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} found"
    return matches[0]


def _deployments(objects: list[Obj]) -> dict[str, Obj]:
    return {obj["metadata"]["name"]: obj for obj in _of_kind(objects, "Deployment")}


def _container(deployment: Obj) -> Obj:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _generated_name(name: str) -> str:
    return HASH_SUFFIX.sub("", name)


# --- rendering and schemas ------------------------------------------------------------


def _normalised(objects: list[Obj]) -> set[str]:
    """The objects with the generated names' hashes removed (the two Kustomize versions hash
    differently), the empty metadata maps the old one adds dropped, and base64 values
    unwrapped (the new one folds long lines)."""
    for obj in objects:
        if obj["kind"] == "Secret":
            obj["data"] = {key: "".join(value.split()) for key, value in obj["data"].items()}
    text = json.dumps(objects, sort_keys=True)
    generated = {
        obj["metadata"]["name"] for obj in objects if obj["kind"] in {"ConfigMap", "Secret"}
    }
    for name in sorted(generated, key=len, reverse=True):
        text = text.replace(f'"{name}"', f'"{_generated_name(name)}"')
    text = text.replace(', "annotations": {}', "").replace('"annotations": {}, ', "")
    text = text.replace(', "labels": {}', "").replace('"labels": {}, ', "")
    return {json.dumps(obj, sort_keys=True) for obj in json.loads(text)}


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_old_kustomize_renders_the_same(kustomization: str, rendered: dict[str, list[Obj]]) -> None:
    """Kustomize v2 (kubectl 1.20, Debian's kubernetes-client) renders every kustomization,
    object for object as the current one does."""
    if not OLD_KUBECTL.exists():
        pytest.skip(f"{OLD_KUBECTL} missing: scripts/test unpacks it (ensure_kubectl)")
    old = _render(str(OLD_KUBECTL), kustomization)
    assert _normalised(old) == _normalised(rendered[kustomization])


def _crd_schemas() -> dict[tuple[str, str], Obj]:
    """(apiVersion, kind) -> the vendored openAPIV3Schema of that CRD version."""
    schemas = {}
    for path in sorted(SCHEMAS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        schemas[(crd["apiVersion"], crd["kind"])] = crd["openAPIV3Schema"]
    return schemas


CRD_SCHEMAS = _crd_schemas()


def _unknown_fields(value: Any, schema: Obj, path: str) -> Iterator[str]:
    """Fields the API server would drop as unknown (kubectl --validate=strict refuses them):
    a key that no `properties` entry names, where the schema keeps no unknown fields."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                yield from _unknown_fields(item, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                yield from _unknown_fields(item, extra, f"{path}.{key}")
            elif extra is not True:
                yield f"{path}.{key}"
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _unknown_fields(item, schema["items"], f"{path}[{index}]")


def _crd_errors(obj: Obj) -> list[str]:
    schema = CRD_SCHEMAS[(obj["apiVersion"], obj["kind"])]
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]
    body = {key: value for key, value in obj.items() if key != "metadata"}
    errors += [f"unknown field {field}" for field in _unknown_fields(body, schema, "")]
    return errors


def _validation_errors(obj: Obj) -> list[str]:
    if (obj["apiVersion"], obj["kind"]) in CRD_SCHEMAS:
        return _crd_errors(obj)
    try:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'.'.join(map(str, error.path))}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for {obj['apiVersion']} {obj['kind']}: vendor its CRD's schema"]
    return []


def _prometheus_rules() -> list[Obj]:
    path = K8S / "prometheus-operator" / "prometheus_rules.py"
    spec = importlib.util.spec_from_file_location("prometheus_rules", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rules: list[Obj] = module.prometheus_rules()
    return rules


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_object_is_valid(kustomization: str, rendered: dict[str, list[Obj]]) -> None:
    objects = rendered[kustomization]
    if kustomization == "prometheus-operator":
        objects = objects + _prometheus_rules()
    errors = {
        f"{obj['kind']} {obj['metadata']['name']}": found
        for obj in objects
        if (found := _validation_errors(obj))
    }
    assert not errors, errors


def test_validation_refuses_mistakes(rendered: dict[str, list[Obj]]) -> None:
    """The checks above can fail: a misspelt field, a wrong type, in both kinds of schema."""
    objects = rendered["overlays/production"]
    deployment = json.loads(json.dumps(_named(objects, "Deployment", "tickets")))
    deployment["spec"]["replica"] = 2
    assert _validation_errors(deployment)
    scaled = json.loads(json.dumps(_named(objects, "ScaledObject", "reports")))
    scaled["spec"]["minReplicas"] = 2
    assert _crd_errors(scaled) == ["unknown field .spec.minReplicas"]
    scaled["spec"] = {"triggers": "rabbitmq"}
    assert len(_crd_errors(scaled)) >= 2


def test_prometheus_rules_come_from_the_rule_files() -> None:
    files = sorted((ROOT / "deploy/monitoring/prometheus/rules").glob("*.yml"))
    rules = _prometheus_rules()
    assert [rule["metadata"]["name"] for rule in rules] == [f"helpdesk-{f.stem}" for f in files]
    for rule, path in zip(rules, files, strict=True):
        assert rule["spec"]["groups"] == yaml.safe_load(path.read_text())["groups"]


# --- Deployments ----------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_deployment_per_process(overlay: str, rendered: dict[str, list[Obj]]) -> None:
    assert set(_deployments(rendered[overlay])) == set(SETTINGS)


def _probe_path(probe: Obj, container: Obj) -> str:
    get = probe["httpGet"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports.get(get["port"], get["port"]) == 8000
    return str(get["path"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_probe_size_and_confine_their_pods(
    overlay: str, rendered: dict[str, list[Obj]]
) -> None:
    for name, deployment in _deployments(rendered[overlay]).items():
        pod = deployment["spec"]["template"]["spec"]
        container = _container(deployment)
        assert container["image"].split("/")[-1].split(":")[0] == f"helpdesk-{name}"
        # The migration runs before the app answers: the startup probe covers it, then
        # liveness (the process) and readiness (database, broker, consumers).
        assert _probe_path(container["startupProbe"], container) == "/health/live"
        assert (
            container["startupProbe"]["failureThreshold"]
            * container["startupProbe"]["periodSeconds"]
            >= 300
        )
        assert _probe_path(container["livenessProbe"], container) == "/health/live"
        assert _probe_path(container["readinessProbe"], container) == "/health/ready"
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, (name, bound)
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
        assert security["seccompProfile"]["type"] == "RuntimeDefault"
        confined = container["securityContext"]
        assert confined["readOnlyRootFilesystem"] is True
        assert confined["allowPrivilegeEscalation"] is False
        assert confined["capabilities"]["drop"] == ["ALL"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        # The read-only root leaves /tmp (spooled uploads, PDF work files) to an emptyDir.
        assert "emptyDir" in volumes[mounts["/tmp"]], name  # noqa: S108
        assert pod["automountServiceAccountToken"] is False


def _key_files(deployment: Obj) -> set[str]:
    """The files of the volume mounted at /keys, from whichever Secrets they come."""
    pod = deployment["spec"]["template"]["spec"]
    mount = next(m for m in _container(deployment)["volumeMounts"] if m["mountPath"] == "/keys")
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    sources = (
        [source["secret"] for source in volume["projected"]["sources"]]
        if "projected" in volume
        else [{**volume["secret"], "name": volume["secret"]["secretName"]}]
    )
    return {
        f"/keys/{item['path']}|{_generated_name(source['name'])}|{item['key']}"
        for source in sources
        for item in source["items"]
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_identity_gets_the_private_key(overlay: str, rendered: dict[str, list[Obj]]) -> None:
    public = "/keys/jwt-public.pem|helpdesk-jwt-public|jwt-public.pem"
    private = "/keys/jwt-private.pem|helpdesk-jwt-private|jwt-private.pem"
    objects = rendered[overlay]
    for name, deployment in _deployments(objects).items():
        expected = {public, private} if name == "identity" else {public}
        assert _key_files(deployment) == expected, name
        settings = _environment(objects, deployment)
        assert settings[f"{name.upper()}_JWT_PUBLIC_KEY_FILE"] == "/keys/jwt-public.pem"
    identity = _environment(objects, _deployments(objects)["identity"])
    assert identity["IDENTITY_JWT_PRIVATE_KEY_FILE"] == "/keys/jwt-private.pem"


def _environment(objects: list[Obj], workload: Obj) -> dict[str, str]:
    """Every variable the container gets: its ConfigMaps' values and its own entries
    (a Secret's value shown as secret:<name>/<key>)."""
    spec = workload["spec"]
    pod = (spec["jobTemplate"]["spec"] if "jobTemplate" in spec else spec)["template"]["spec"]
    container = pod["containers"][0]
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        config = _named(objects, "ConfigMap", source["configMapRef"]["name"])
        values.update(config["data"])
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        secret = f"secret:{_generated_name(ref['name'])}/{ref['key']}" if ref else None
        values[entry["name"]] = secret or entry["value"]
    return values


def _setting_names(settings: type[BaseSettings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in settings.model_fields}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_is_a_setting_of_its_service(
    overlay: str, rendered: dict[str, list[Obj]]
) -> None:
    objects = rendered[overlay]
    for name, deployment in _deployments(objects).items():
        unknown = set(_environment(objects, deployment)) - _setting_names(SETTINGS[name])
        assert not unknown, f"{name}: variables its settings never read: {unknown}"
    backup = _named(objects, "CronJob", "backup")
    unknown = set(_environment(objects, backup)) - _setting_names(BackupSettings)
    assert not unknown, f"backup: {unknown}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_get_their_connections_and_secrets(
    overlay: str, rendered: dict[str, list[Obj]]
) -> None:
    objects = rendered[overlay]
    for name, deployment in _deployments(objects).items():
        env = _environment(objects, deployment)
        prefix = name.upper()
        if name == "gateway":
            for service in SETTINGS.keys() - {"gateway"}:
                assert env[f"GATEWAY_{service.upper()}_URL"] == f"http://{service}:8000"
            continue
        assert env[f"{prefix}_DATABASE_URL"] == "secret:helpdesk-database/url"
        assert env[f"{prefix}_AMQP_URL"] == "secret:helpdesk-rabbitmq/url"
        if SETTINGS[name].needs_internal_token:  # type: ignore[attr-defined]
            assert env[f"{prefix}_INTERNAL_TOKEN"] == "secret:helpdesk-internal-token/token"
        for url in ("TICKETS_URL", "ATTACHMENTS_URL"):
            if f"{prefix}_{url}" in env:
                service = url.removesuffix("_URL").lower()
                assert env[f"{prefix}_{url}"] == f"http://{service}:8000"
                assert name in INTERNAL_CALLERS[service]


def test_production_runs_production_settings_and_pinned_images(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["overlays/production"]
    for name, deployment in _deployments(objects).items():
        env = _environment(objects, deployment)
        assert env[f"{name.upper()}_ENVIRONMENT"] == "production", name
    images = [container["image"] for obj in objects for container in _pod_containers(obj)]
    assert images
    for image in images:
        if "@sha256:" in image:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
        assert tag and tag != "latest", f"production image not pinned: {image}"
        assert "/" in image, f"production image without its registry: {image}"


def test_production_generates_no_secret(rendered: dict[str, list[Obj]]) -> None:
    """Production's Secrets are created beside git (docs/kubernetes.md); the dev overlay's
    are generated, and none of the non-optional ones the workloads need is missing."""
    assert not _of_kind(rendered["overlays/production"], "Secret")
    dev = rendered["overlays/dev"]
    generated = {obj["metadata"]["name"] for obj in _of_kind(dev, "Secret")}
    for name in _secret_references(dev, optional=False):
        assert name in generated, name
    documented = (ROOT / "docs" / "kubernetes.md").read_text()
    for name in _secret_references(rendered["overlays/production"], optional=True):
        assert name in documented, f"docs/kubernetes.md does not explain the Secret {name}"


def _production_environment(name: str, objects: list[Obj], keys: Path) -> dict[str, str]:
    """A production Deployment's variables with its Secrets filled in as an operator would
    (strong random values, real URLs) and /keys pointing at a real key pair."""
    values = {}
    for variable, value in _environment(objects, _deployments(objects)[name]).items():
        if value.startswith("secret:helpdesk-database/"):
            value = f"postgresql+asyncpg://helpdesk:{secrets.token_hex(16)}@db:5432/helpdesk"
        elif value.startswith("secret:helpdesk-rabbitmq/"):
            value = f"amqp://helpdesk:{secrets.token_hex(16)}@mq:5672"
        elif value.startswith("secret:"):
            value = secrets.token_urlsafe(24)
        values[variable] = value.replace("/keys/", f"{keys}/")
    return values


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_production_settings_start_and_refuse_known_secrets(
    name: str, rendered: dict[str, list[Obj]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the production overlay's settings and real secrets each service's settings load
    (identity's start-up check included); a well-known secret instead is refused, as
    <SERVICE>_ENVIRONMENT=production promises."""
    ensure_keypair(tmp_path)
    environment = _production_environment(name, rendered["overlays/production"], tmp_path)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    settings = SETTINGS[name]()
    if isinstance(settings, IdentitySettings):
        settings.check_secrets()
    refusable = [v for v in environment if v.endswith(("_INTERNAL_TOKEN", "_SECRET_KEY"))]
    for variable in refusable:
        monkeypatch.setenv(variable, "change-me")
        with pytest.raises(ValueError, match="real secret"):
            SETTINGS[name]()
        monkeypatch.setenv(variable, environment[variable])
    if name == "gateway":  # its one secret is the public key: required in production
        monkeypatch.delenv("GATEWAY_JWT_PUBLIC_KEY_FILE")
        with pytest.raises(ValueError, match="jwt_public_key"):
            SETTINGS[name]()
    elif name == "identity":  # no signing key, no start
        monkeypatch.delenv("IDENTITY_JWT_PRIVATE_KEY_FILE")
        with pytest.raises(ValueError, match="jwt_private_key"):
            IdentitySettings().check_secrets()
    else:
        assert refusable, f"{name} gets no secret its settings would refuse"


def _pod_containers(obj: Obj) -> list[Obj]:
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    if obj["kind"] not in {"Deployment", "CronJob", "StatefulSet", "Job"}:
        return []
    containers: list[Obj] = spec["template"]["spec"]["containers"]
    return containers


def _secret_references(objects: list[Obj], *, optional: bool) -> set[str]:
    names = set()
    text = json.dumps(objects)
    for ref in re.findall(r'"secretKeyRef": (\{[^}]*\})', text):
        found = json.loads(ref)
        if optional or not found.get("optional"):
            names.add(found["name"])
    names.update(re.findall(r'"secretName": "([^"]+)"', text))
    names.update(
        source["secret"]["name"]
        for obj in objects
        for volume in obj.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", [])
        for source in volume.get("projected", {}).get("sources", [])
    )
    names.discard("helpdesk-tls")  # cert-manager writes it
    return names


# --- availability and scaling ---------------------------------------------------------


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        match expression["operator"]:
            case "In":
                ok = value in expression["values"]
            case "NotIn":
                ok = value not in expression["values"]
            case "Exists":
                ok = present
            case _:
                ok = not present
        if not ok:
            return False
    return True


def _pod_labels(deployment: Obj) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_disruption_budget_per_deployment(overlay: str, rendered: dict[str, list[Obj]]) -> None:
    objects = rendered[overlay]
    budgets = _of_kind(objects, "PodDisruptionBudget")
    for name, deployment in _deployments(objects).items():
        matching = [b for b in budgets if _selects(b["spec"]["selector"], _pod_labels(deployment))]
        assert len(matching) == 1, name
        # A budget that a single replica (the dev overlay) could never satisfy would block
        # every node drain.
        assert matching[0]["spec"].get("maxUnavailable") == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_exactly_one_autoscaler(
    overlay: str, rendered: dict[str, list[Obj]]
) -> None:
    objects = rendered[overlay]
    targets: dict[str, list[str]] = {}
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for obj in _of_kind(objects, kind):
            ref = obj["spec"]["scaleTargetRef"]
            assert ref.get("kind", "Deployment") == "Deployment"
            targets.setdefault(ref["name"], []).append(kind)
    assert targets == {
        **{name: ["HorizontalPodAutoscaler"] for name in HPA_SCALED},
        **{name: ["ScaledObject"] for name in KEDA_SCALED},
    }
    for hpa in _of_kind(objects, "HorizontalPodAutoscaler"):
        assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    minimum = 2 if overlay.endswith("production") else 1
    for obj in objects:
        spec = obj["spec"] if obj["kind"] in {"HorizontalPodAutoscaler", "ScaledObject"} else {}
        if spec:
            assert spec.get("minReplicas", spec.get("minReplicaCount")) == minimum
        assert "replicas" not in spec or obj["kind"] != "Deployment"
    for deployment in _deployments(objects).values():
        # The autoscaler owns the replica count; one in the Deployment would reset it at
        # every apply.
        assert "replicas" not in deployment["spec"]


def test_keda_scales_on_real_consumer_queues(rendered: dict[str, list[Obj]]) -> None:
    """Each ScaledObject watches its service's own consumer queue (a name from
    helpdesk_common.contracts.subscriptions, the queue being settings.queue_name(name) with
    no prefix) with the broker URL its container gets, plus a CPU trigger."""
    objects = rendered["overlays/production"]
    deployments = _deployments(objects)
    for scaled in _of_kind(objects, "ScaledObject"):
        service = scaled["spec"]["scaleTargetRef"]["name"]
        triggers = {trigger["type"]: trigger for trigger in scaled["spec"]["triggers"]}
        assert set(triggers) == {"rabbitmq", "cpu"}
        rabbitmq = triggers["rabbitmq"]["metadata"]
        queue = rabbitmq["queueName"]
        assert queue in SUBSCRIPTIONS, queue
        assert queue == service or queue.startswith(f"{service}."), (service, queue)
        assert rabbitmq["mode"] == "QueueLength" and int(rabbitmq["value"]) > 0
        env = _environment(objects, deployments[service])
        assert env[rabbitmq["hostFromEnv"]] == "secret:helpdesk-rabbitmq/url"
        assert SETTINGS[service]().queue_name(queue) == queue  # type: ignore[attr-defined]


# --- exposure and network -------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_is_exposed_over_https(
    overlay: str, rendered: dict[str, list[Obj]]
) -> None:
    objects = rendered[overlay]
    (ingress,) = _of_kind(objects, "Ingress")
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"gateway"}
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    (tls,) = ingress["spec"]["tls"]
    assert set(tls["hosts"]) == hosts and tls["secretName"] == "helpdesk-tls"
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    issuer = annotations.get("cert-manager.io/issuer") or annotations.get(
        "cert-manager.io/cluster-issuer"
    )
    assert issuer, "no cert-manager issuer named"
    if "cert-manager.io/issuer" in annotations:
        _named(objects, "Issuer", issuer)
    for kube_service in _of_kind(objects, "Service"):
        assert kube_service["spec"].get("type", "ClusterIP") == "ClusterIP", kube_service
    for name in ("TICKETS_WEB_BASE_URL", "NOTIFICATIONS_WEB_BASE_URL"):
        owner = name.split("_", 1)[0].lower()
        url = _environment(objects, _deployments(objects)[owner])[name]
        assert url == f"https://{next(iter(hosts))}", url


def _policies(objects: list[Obj], labels: dict[str, str], direction: str) -> list[Obj]:
    return [
        policy["spec"]
        for policy in _of_kind(objects, "NetworkPolicy")
        if _selects(policy["spec"]["podSelector"], labels)
        and direction in policy["spec"]["policyTypes"]
    ]


def _peers(objects: list[Obj], labels: dict[str, str], direction: str) -> set[str]:
    """Who may reach these pods (Ingress) or whom they may reach (Egress): helpdesk
    Deployments by name, infrastructure as `pods:<labels>`, other namespaces as `ns:<name>`,
    address blocks as `ip:<cidr>`."""
    deployments = _deployments(objects)
    found: set[str] = set()
    key = "from" if direction == "Ingress" else "to"
    for spec in _policies(objects, labels, direction):
        for rule in spec.get(direction.lower(), []):
            for peer in rule.get(key, [{"ipBlock": {"cidr": "*"}}]):
                if "ipBlock" in peer:
                    found.add(f"ip:{peer['ipBlock']['cidr']}")
                elif "namespaceSelector" in peer:
                    namespace = peer["namespaceSelector"]["matchLabels"]
                    found.add(f"ns:{namespace['kubernetes.io/metadata.name']}")
                else:
                    selector = peer["podSelector"]
                    named = {
                        name
                        for name, d in deployments.items()
                        if _selects(selector, _pod_labels(d))
                    }
                    found |= named or {f"pods:{json.dumps(selector, sort_keys=True)}"}
    return found


def test_network_policies_deny_by_default_and_open_only_what_is_needed(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["overlays/production"]
    deny = _named(objects, "NetworkPolicy", "default-deny")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    deployments = _deployments(objects)
    for name, deployment in deployments.items():
        sources = _peers(objects, _pod_labels(deployment), "Ingress")
        if name == "gateway":
            assert sources == {"ns:ingress-nginx", "ns:monitoring"}
        else:
            callers = {"gateway", *INTERNAL_CALLERS.get(name, set())}
            assert sources == {*callers, "ns:monitoring"}, name


def _reaching(objects: list[Obj], pods: dict[str, str]) -> set[str]:
    """The helpdesk workloads whose egress lets them reach pods labelled so."""
    workloads = {name: _pod_labels(d) for name, d in _deployments(objects).items()}
    backup = _named(objects, "CronJob", "backup")["spec"]["jobTemplate"]["spec"]["template"]
    workloads["backup"] = backup["metadata"]["labels"]
    reaching = set()
    for name, labels in workloads.items():
        for spec in _policies(objects, labels, "Egress"):
            for rule in spec.get("egress", []):
                for peer in rule.get("to", []):
                    if "podSelector" in peer and _selects(peer["podSelector"], pods):
                        reaching.add(name)
    return reaching


def test_only_the_services_reach_the_database_and_the_broker(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["overlays/production"]
    services = set(SETTINGS) - {"gateway"}
    database = {"cnpg.io/cluster": "helpdesk-db"}
    broker = {"app.kubernetes.io/name": "helpdesk-rabbitmq"}
    assert _reaching(objects, database) == services | {"backup"}
    assert _reaching(objects, broker) == services
    assert _reaching(objects, {"app.kubernetes.io/name": "clamav"}) == {"attachments"}
    # ... and the infrastructure's own policies let in no one else (same labels).
    infrastructure = rendered["infrastructure"]
    for name in ("postgresql", "rabbitmq"):
        policy = _named(infrastructure, "NetworkPolicy", name)["spec"]
        client_rule = policy["ingress"][0]
        for peer in client_rule["from"]:
            selector = peer.get("podSelector", {}).get("matchLabels", {})
            assert selector.get("app.kubernetes.io/part-of", "helpdesk") == "helpdesk"
            assert selector.get("app.kubernetes.io/name") != "gateway"


def test_dns_is_reachable_from_every_pod(rendered: dict[str, list[Obj]]) -> None:
    dns = _named(rendered["overlays/production"], "NetworkPolicy", "allow-dns")["spec"]
    assert dns["podSelector"] == {}
    ports = {(p["protocol"], p["port"]) for p in dns["egress"][0]["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53)}


# --- backups --------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_backup_runs_daily_and_never_twice_at_once(
    overlay: str, rendered: dict[str, list[Obj]]
) -> None:
    objects = rendered[overlay]
    cronjob = _named(objects, "CronJob", "backup")
    assert cronjob["spec"]["schedule"] == "0 2 * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["helpdesk-backup", "create"]
    assert container["image"].split("/")[-1].split(":")[0] == "helpdesk-ops"
    env = _environment(objects, cronjob)
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    mounted = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert claims[mounted[env["BACKUP_DIR"]]] == "helpdesk-backups"
    _named(objects, "PersistentVolumeClaim", "helpdesk-backups")
    assert env["BACKUP_DATABASE_URL"] == "secret:helpdesk-database/url"
    assert int(env["BACKUP_RETENTION_DAYS"]) >= (30 if overlay.endswith("production") else 1)


def test_docs_are_linked() -> None:
    assert "(docs/kubernetes.md)" in (ROOT / "README.md").read_text()
    assert "(kubernetes.md)" in (ROOT / "docs" / "operations.md").read_text()
