"""Print the helpdesk's Prometheus alert and recording rules as PrometheusRule objects.

The rule files of deploy/monitoring/prometheus/rules/ stay the one source (docker-compose's
Prometheus loads them as they are); a PrometheusRule's spec is the same ``groups:`` list, so
each file becomes one object. Usage (the Prometheus Operator's CRDs installed):

    python deploy/kubernetes/prometheus-operator/prometheus_rules.py \
        | kubectl apply -n helpdesk -f -
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

RULES = Path(__file__).resolve().parents[2] / "monitoring" / "prometheus" / "rules"


def prometheus_rules(rules_dir: Path = RULES) -> list[dict[str, Any]]:
    """One PrometheusRule per rule file, named after it (helpdesk-<file stem>)."""
    objects = []
    for path in sorted(rules_dir.glob("*.yml")):
        groups = yaml.safe_load(path.read_text())["groups"]
        objects.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": {
                    "name": f"helpdesk-{path.stem}",
                    # kube-prometheus-stack selects rules by its release label by default.
                    "labels": {
                        "app.kubernetes.io/part-of": "helpdesk",
                        "release": "kube-prometheus-stack",
                    },
                },
                "spec": {"groups": groups},
            }
        )
    return objects


def main() -> None:
    yaml.safe_dump_all(prometheus_rules(), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
