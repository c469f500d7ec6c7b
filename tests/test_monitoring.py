"""Monitoring as shipped (deploy/monitoring, docs/runbooks.md).

Debian's promtool checks the alert and recording rules, runs their unit tests and checks the
Prometheus configuration; every Grafana query must be valid PromQL on the provisioned data
source; every metric a rule or a dashboard names must really be exported: by a running
system's services and gateway, by Debian's node exporter and by its blackbox exporter probing
a TLS server. Every alert points at a section of the runbook.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import http.server
import json
import re
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from helpdesk_testing import LocalSystem
from helpdesk_testing.net import free_port
from helpdesk_testing.polling import eventually
from helpdesk_testing.tls import self_signed_certificate

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "deploy" / "monitoring"
PROMETHEUS = MONITORING / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
BLACKBOX_CONFIG = MONITORING / "blackbox" / "blackbox.yml"
ALERTMANAGER_CONFIG = MONITORING / "alertmanager" / "alertmanager.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"

JOBS = ("gateway", "identity", "tickets", "notifications", "reports", "attachments", "integrations")
# Series Prometheus makes itself, not any exporter.
PROMETHEUS_INTERNAL = {"up", "ALERTS", "ALERTS_FOR_STATE"}
SEVERITIES = {"critical", "warning"}


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - Debian's tools on the repository's own files
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
    ]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


# -- PromQL: the metric names an expression reads ------------------------------------------

_TOKEN = re.compile(
    r"""(?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
      | (?P<number>\d[\w.]*)         # numbers and durations: 0.99, 1e9, 5m
      | (?P<name>[A-Za-z_:][\w:]*)
      | (?P<other>\S)""",
    re.VERBOSE,
)
# Followed by a parenthesised list of label names, not of expressions.
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = _LABEL_LISTS | {"bool", "offset", "and", "or", "unless", "atan2", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside label matchers, ranges and
    strings that are neither a function or an aggregation (followed by "(", "by" or
    "without"), nor a keyword, nor a label list's label."""
    tokens = [(match.lastgroup, match.group()) for match in _TOKEN.finditer(expr)]
    names: set[str] = set()
    braces = brackets = 0
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        braces += {"{": 1, "}": -1}.get(text, 0) if kind == "other" else 0
        brackets += {"[": 1, "]": -1}.get(text, 0) if kind == "other" else 0
        if kind == "name" and not braces and not brackets:
            if text.lower() in _LABEL_LISTS and following == "(":
                index = _closing_parenthesis(tokens, index + 1)
            elif following not in ("(", "by", "without") and text.lower() not in _KEYWORDS:
                names.add(text)  # not a function, nor an aggregation ("sum by (job) (...)")
        index += 1
    return names


def _closing_parenthesis(tokens: list[tuple[str | None, str]], opening: int) -> int:
    depth = 0
    for index in range(opening, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[index][1], 0)
        if depth == 0:
            return index
    raise AssertionError(f"unbalanced parentheses in {''.join(t for _, t in tokens)}")


def test_metric_names_are_extracted_from_promql() -> None:
    expr = """sum by (job, le) (rate(http_request_duration_seconds_bucket{route!~".*/stream",
        status=~"5.."}[5m] offset 1d)) / on (job) group_left (instance) max without (queue)
        (bus_queue_messages) > bool 0.99 * 1e9 or absent(up{job="a b"}) unless
        predict_linear(node_filesystem_avail_bytes[6h:1m], 24 * 3600) - time()
        and job:requests:rate5m @ end()"""
    assert metric_names(expr) == {
        "http_request_duration_seconds_bucket",
        "bus_queue_messages",
        "up",
        "node_filesystem_avail_bytes",
        "job:requests:rate5m",
    }


# -- rules, their unit tests, the configuration --------------------------------------------


def test_rule_files_pass_promtool() -> None:
    assert RULE_FILES, "no rule files"
    run("promtool", "check", "rules", *RULE_FILES)


def test_alert_unit_tests_pass_and_cover_every_alert() -> None:
    assert RULE_TESTS, "no rule unit tests"
    run("promtool", "test", "rules", *RULE_TESTS, cwd=PROMETHEUS / "tests")
    fired: set[str] = set()
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                expected = check.get("exp_alerts") or []
                if any(alert.get("exp_annotations") for alert in expected):
                    fired.add(check["alertname"])
    names = {alert["alert"] for alert in alerts()}
    assert names - fired == set(), "alerts without a unit test in which they fire"


def test_every_alert_has_severity_and_annotations() -> None:
    names = [alert["alert"] for alert in alerts()]
    assert len(names) == len(set(names)), "alert names repeat"
    for alert in alerts():
        assert alert["labels"]["severity"] in SEVERITIES, alert["alert"]
        annotations = alert["annotations"]
        assert {"summary", "description", "runbook_url"} <= annotations.keys(), alert["alert"]


def test_prometheus_config_passes_promtool_and_scrapes_every_service() -> None:
    # Relative paths in it (rules/*.yml, targets/) resolve against the file's directory.
    output = run("promtool", "check", "config", PROMETHEUS / "prometheus.yml")
    assert "rules found" in output, output  # the rule files were found and checked
    jobs = {
        job["job_name"]: job for job in load_yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"]
    }
    for name in JOBS:
        # One A record per replica: `docker compose up --scale` replicas are all scraped.
        assert jobs[name]["dns_sd_configs"] == [
            {"names": [name], "type": "A", "port": 8000, "refresh_interval": "30s"}
        ]
    assert {"node", "blackbox-https"} <= jobs.keys()


def test_blackbox_config_is_valid() -> None:
    run("prometheus-blackbox-exporter", "--config.check", f"--config.file={BLACKBOX_CONFIG}")


def test_alertmanager_config_is_valid_and_routes_every_severity() -> None:
    run("amtool", "check-config", ALERTMANAGER_CONFIG)
    for severity in SEVERITIES:
        routed = run(
            "amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
            "alertname=ServiceDown", f"severity={severity}",
        )  # fmt: skip
        assert routed.split() == ["operators"], routed


def test_compose_mounts_existing_monitoring_files() -> None:
    compose = load_yaml(ROOT / "docker-compose.yml")["services"]
    for name in ("prometheus", "grafana", "alertmanager", "node-exporter", "blackbox-exporter"):
        service = compose[name]
        assert service["restart"] == "unless-stopped" and "healthcheck" in service, name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


# -- dashboards ------------------------------------------------------------------------------


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def dashboard_queries() -> list[str]:
    return [
        target["expr"]
        for dashboard in dashboards().values()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def runbook_queries() -> list[str]:
    """The queries the runbooks give (lines of their promql blocks, comments cut off)."""
    blocks = re.findall(r"```promql\n(.*?)```", RUNBOOKS.read_text(), re.DOTALL)
    lines = (
        re.sub(r"\s+#.*$", "", line).strip() for block in blocks for line in block.splitlines()
    )
    return [line for line in lines if line]


def variable_metrics() -> set[str]:
    """The metrics the template variables' label_values(metric, label) queries read."""
    found: set[str] = set()
    for dashboard in dashboards().values():
        for variable in dashboard.get("templating", {}).get("list", []):
            query = variable.get("query")
            text = query.get("query", "") if isinstance(query, dict) else str(query or "")
            if match := re.fullmatch(r"label_values\((.+),\s*\w+\)", text.strip()):
                found |= metric_names(match.group(1))
    return found


def without_variables(expr: str) -> str:
    """A panel's query as Grafana sends it with every variable at "All" (the dashboards use
    them only in regular-expression matchers; ``$__…`` ones are intervals)."""
    return re.sub(
        r"\$\{?(\w+)\}?",
        lambda match: "5m" if match.group(1).startswith("__") else ".*",
        expr,
    )


def test_dashboard_and_runbook_queries_are_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries() + runbook_queries()
    assert len(dashboard_queries()) > 30 and len(runbook_queries()) > 10
    rule_file = tmp_path / "dashboards.yml"
    rule_file.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "dashboard-queries",
                        "rules": [
                            {"record": f"dashboard:query_{number}", "expr": without_variables(q)}
                            for number, q in enumerate(queries)
                        ],
                    }
                ]
            }
        )
    )
    run("promtool", "check", "rules", rule_file)


def test_dashboards_use_the_provisioned_datasource_and_stable_uids() -> None:
    provisioned = {source["uid"] for source in load_yaml(DATASOURCES)["datasources"]}
    boards = dashboards()
    assert {"overview.json", "event-backbone.json", "business.json"} <= boards.keys()
    uids = [board["uid"] for board in boards.values()]
    assert all(uids) and len(uids) == len(set(uids)), uids
    for name, board in boards.items():
        ids = [panel["id"] for panel in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        for panel in panels(board):
            for holder in [panel, *panel.get("targets", [])]:
                if "datasource" in holder:
                    assert holder["datasource"]["uid"] in provisioned, (name, panel["title"])


# -- every metric named is exported -------------------------------------------------------------


def used_metrics() -> set[str]:
    """What the rules, the dashboards and the runbooks' queries read."""
    used = set(variable_metrics())
    for rule in rules():
        used |= metric_names(rule["expr"])
    for query in dashboard_queries() + runbook_queries():
        used |= metric_names(without_variables(query))
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    return {
        name for name in used - recorded - PROMETHEUS_INTERNAL if not name.startswith("scrape_")
    }


_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}


def exported_names(exposition: str) -> set[str]:
    """Every series name an exposition can produce. A labelled family is listed (HELP, TYPE)
    before any child exists, so its names count although it has no sample yet."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ()))
    return names


async def scrape(client: httpx.AsyncClient, url: str) -> set[str]:
    response = await client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return exported_names(response.text)


@contextlib.asynccontextmanager
async def exporter(*command: str) -> AsyncIterator[str]:
    """Start a Debian exporter on a free loopback port; yields its base URL."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *command,
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:

            async def answers() -> bool:
                if process.returncode is not None:
                    raise AssertionError(f"{command[0]} exited with {process.returncode}")
                with contextlib.suppress(httpx.TransportError):
                    return (await client.get(f"{url}/metrics")).status_code == 200
                return False

            await eventually(answers, timeout=30, interval=0.1)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)


@contextlib.contextmanager
def tls_server(directory: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate for 127.0.0.1; yields its
    URL and the certificate (the prober's CA)."""
    cert_file, key_file = self_signed_certificate(
        directory, "127.0.0.1", valid_for=datetime.timedelta(days=30)
    )

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/", cert_file
    finally:
        server.shutdown()
        server.server_close()


def job_urls(system: LocalSystem) -> dict[str, str]:
    """Each job's base URL: the gateway's and every service's own (from the banner)."""
    urls = {"gateway": system.gateway_url, **system.service_urls}
    assert set(urls) == set(JOBS), urls
    return urls


async def system_metrics(system: LocalSystem, client: httpx.AsyncClient) -> set[str]:
    names: set[str] = set()
    for url in job_urls(system).values():
        names |= await scrape(client, f"{url}/metrics")
    return names


async def probe_metrics(tmp_path: Path) -> set[str]:
    """The repository's https_2xx module probing a TLS server (trusting its certificate)."""
    with tls_server(tmp_path) as (target, certificate):
        config = load_yaml(BLACKBOX_CONFIG)
        config["modules"]["https_2xx"]["http"]["tls_config"] = {"ca_file": str(certificate)}
        config_file = tmp_path / "blackbox.yml"
        config_file.write_text(yaml.safe_dump(config))
        async with (
            exporter("prometheus-blackbox-exporter", f"--config.file={config_file}") as url,
            httpx.AsyncClient(timeout=30) as client,
        ):
            response = await client.get(
                f"{url}/probe", params={"module": "https_2xx", "target": target}
            )
    assert response.status_code == 200
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples["probe_success"] == 1, response.text
    assert samples["probe_ssl_earliest_cert_expiry"] > 0
    return exported_names(response.text)


async def test_every_metric_used_is_exported(system: LocalSystem, tmp_path: Path) -> None:
    used = used_metrics()
    assert {"http_requests_total", "node_filesystem_avail_bytes", "probe_success"} <= used
    async with httpx.AsyncClient(timeout=30) as client:
        services = await system_metrics(system, client)
        async with exporter("prometheus-node-exporter") as node_url:
            node = await scrape(client, f"{node_url}/metrics")
    probes = await probe_metrics(tmp_path)
    # node_* come from the node exporter, probe_* from the blackbox exporter, the rest from
    # the helpdesk's own processes.
    exporters = {"node": node, "probe": probes}
    missing = {name for name in used if name not in exporters.get(name.split("_")[0], services)}
    assert missing == set(), "named in rules or dashboards but exported by nothing"


# -- runbooks --------------------------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_alert_links_an_existing_runbook_section() -> None:
    anchors = {
        github_anchor(line.lstrip("#"))
        for line in RUNBOOKS.read_text().splitlines()
        if line.startswith("#")
    }
    for alert in alerts():
        document, _, anchor = alert["annotations"]["runbook_url"].partition("#")
        assert document == "docs/runbooks.md", alert["alert"]
        assert anchor in anchors, f"{alert['alert']}: no section #{anchor} in docs/runbooks.md"


# -- a real Prometheus over a running system -------------------------------------------------


@contextlib.asynccontextmanager
async def prometheus_over(system: LocalSystem, directory: Path) -> AsyncIterator[str]:
    """Debian's Prometheus scraping the system every second with the repository's rules,
    each service and the gateway a job named as in compose; yields its base URL."""
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULE_FILES],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [urlsplit(url).netloc]}]}
            for job, url in job_urls(system).items()
        ],
    }
    config_file = directory / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        "prometheus",
        f"--config.file={config_file}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)


async def query(client: httpx.AsyncClient, url: str, expr: str) -> list[dict[str, Any]]:
    response = await client.get(f"{url}/api/v1/query", params={"query": expr})
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", (expr, body)
    return list(body["data"]["result"])


async def test_dashboards_and_rules_work_in_a_real_prometheus(
    system: LocalSystem, tmp_path: Path
) -> None:
    """What promtool cannot see: the job labels, the recording rules feeding the panels, and
    errors that only evaluation finds (vector matching, a rule that fails every round)."""
    async with (
        prometheus_over(system, tmp_path) as url,
        httpx.AsyncClient(timeout=30) as client,
    ):

        async def ready() -> bool:
            with contextlib.suppress(httpx.TransportError):
                return (await client.get(f"{url}/-/ready")).status_code == 200
            return False

        await eventually(ready, timeout=60, interval=0.2)

        pages = [f"{system.gateway_url}/api/identity/auth/public-key"] + [
            f"{url}/openapi.json" for url in system.service_urls.values()
        ]

        async def every_job_scraped_twice() -> bool:
            # Traffic while Prometheus watches (health and metrics routes are not counted):
            # a page of each service and one through the gateway, so every job has requests.
            for page in pages:
                await client.get(page)
            up = await query(client, url, "count_over_time(up[1m]) >= 3")
            rates = await query(client, url, "job:requests:rate5m")
            return {r["metric"]["job"] for r in up} == set(JOBS) and {
                r["metric"]["job"] for r in rates
            } == set(JOBS)

        await eventually(every_job_scraped_twice, timeout=60, interval=0.5)

        answered = {
            expr: await query(client, url, without_variables(expr)) for expr in dashboard_queries()
        }

        def jobs(expr: str) -> set[str]:
            return {series["metric"].get("job", "") for series in answered[expr]}

        assert jobs('sum by (job) (up{job=~"$job"})') == set(JOBS)
        assert jobs('job:requests:rate5m{job=~"$job"}') == set(JOBS)
        # Every service has an outbox (the gateway, sharing the library, reports an empty
        # one); the consumers report their queues from the broker.
        assert jobs("job:outbox_backlog:max") >= set(JOBS) - {"gateway"}
        queues = {
            s["metric"]["queue"] for s in answered['queue:bus_queue_messages:max{queue=~"$queue"}']
        }
        assert any(queue.endswith("notifications") for queue in queues), queues
        statuses = {s["metric"]["status"] for s in answered["status:tickets_open:max"]}
        assert statuses == {"new", "in_progress", "pending"}

        rules = (await client.get(f"{url}/api/v1/rules")).json()["data"]["groups"]
        failing = {
            rule["name"]: rule.get("lastError")
            for group in rules
            for rule in group["rules"]
            if rule.get("health") == "err"
        }
        assert failing == {}, failing
