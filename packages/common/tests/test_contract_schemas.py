"""Event contracts change only additively: their JSON schema is snapshot-checked.

A failing test here means a contract changed. If the change is additive (a new optional
field, a new event), refresh the snapshot with ``UPDATE_SNAPSHOTS=1 uv run pytest
packages/common/tests/test_contract_schemas.py`` and commit it with the change; otherwise
add a new event version instead of changing the old one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpdesk_common.contracts import CATALOGUE, EventEnvelope

SNAPSHOT = Path(__file__).parent / "snapshots" / "event_schemas.json"


def current_schemas() -> dict[str, object]:
    schemas: dict[str, object] = {"envelope": EventEnvelope.model_json_schema()}
    for event_type, model in sorted(CATALOGUE.items()):
        schemas[event_type] = {"version": model.event_version, "schema": model.model_json_schema()}
    return schemas


def test_event_schemas_match_snapshot() -> None:
    current = current_schemas()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    if not SNAPSHOT.exists():
        pytest.fail(f"no snapshot at {SNAPSHOT}; run with UPDATE_SNAPSHOTS=1 once")
    assert json.loads(SNAPSHOT.read_text()) == json.loads(json.dumps(current))


def test_every_snapshotted_field_still_exists() -> None:
    """Even after a refresh, no field of the committed snapshot may disappear."""
    snapshot = json.loads(SNAPSHOT.read_text())
    current = json.loads(json.dumps(current_schemas()))
    for name, old in snapshot.items():
        assert name in current, f"event {name} was removed"
        old_schema = old["schema"] if name != "envelope" else old
        new_schema = current[name]["schema"] if name != "envelope" else current[name]
        missing = set(old_schema.get("properties", {})) - set(new_schema.get("properties", {}))
        assert not missing, f"{name} lost fields {sorted(missing)}"


def test_catalogue_is_documented() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "events.md").read_text()
    undocumented = [event_type for event_type in CATALOGUE if f"`{event_type}`" not in doc]
    assert not undocumented, f"add these events to docs/events.md: {undocumented}"
