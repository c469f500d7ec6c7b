"""PATCH bodies: a field left out stays as it is, a field sent as ``null`` is cleared, unless
it cannot be (a name, a role, a flag), which the service refuses with a 422 naming it.

The model keeps such a field ``X | None`` (so that "not sent" and "sent" can be told apart)
and declares in its schema that it is never null, ``model_config =
ConfigDict(json_schema_extra=not_null("name", "is_active"))``: clients and the contract
fuzzer see the rule the service enforces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def not_null(*names: str) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` for a model: its fields ``names`` are declared non-nullable."""

    def declare(schema: dict[str, Any]) -> None:
        properties = schema.get("properties") or {}
        for name in names:
            field = properties.get(name)
            if not isinstance(field, dict) or "anyOf" not in field:
                continue
            kept = [option for option in field["anyOf"] if option != {"type": "null"}]
            if len(kept) == len(field["anyOf"]):
                continue
            del field["anyOf"]
            if len(kept) == 1:
                field.update(kept[0])
            else:
                field["anyOf"] = kept
            if field.get("default", ...) is None:
                del field["default"]

    return declare
