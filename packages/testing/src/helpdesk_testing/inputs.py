"""Whether a service's OpenAPI document declares the input rules of helpdesk_common.inputs
for every field a client sends: a test per service asserts ``unguarded_inputs(doc) == []``,
so a new request field without them fails there rather than as a 500 in production."""

from __future__ import annotations

from typing import Any

import httpx

# Formats whose own syntax has no room for a NUL (and dates: bounded, below).
_SAFE_FORMATS = frozenset({"uuid", "binary", "time", "email"})
_BOUNDED_FORMATS = frozenset({"date", "date-time"})


def refused(response: httpx.Response, field: str, message: str | None = None) -> None:
    """Assert a 422 in the shared error shape naming ``field`` (with ``message``, if given)."""
    assert response.status_code == 422, response.text
    found = {f["field"]: f["message"] for f in response.json()["error"].get("fields", [])}
    assert field in found, found
    if message is not None:
        assert found[field] == message


def unguarded_inputs(document: dict[str, Any]) -> list[str]:
    """Every query/path parameter and request body field that is a string without a
    ``pattern`` (or enum, or a format that excludes NUL), a date or instant without
    ``formatMinimum``/``formatMaximum`` and the range's ``pattern``, or an integer without
    ``minimum`` and ``maximum``; as ``METHOD path where``. Headers are left out: the
    idempotency layer and each header's parser check them."""
    found: list[str] = []
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("query", "path"):
                    _walk(
                        document,
                        parameter.get("schema", {}),
                        f"{where} {parameter['in']}:{parameter['name']}",
                        found,
                    )
            for content in operation.get("requestBody", {}).get("content", {}).values():
                _walk(document, content.get("schema", {}), f"{where} body", found)
    return found


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _walk(document: dict[str, Any], schema: dict[str, Any], at: str, found: list[str]) -> None:
    schema = _resolve(document, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            _walk(document, option, at, found)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            _walk(document, sub, f"{at}.{name}", found)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            _walk(document, extra, f"{at}.*", found)
            found.append(f"{at} (keys without a pattern)")
        for sub in schema.get("patternProperties", {}).values():
            _walk(document, sub, f"{at}.*", found)
    elif kind == "array":
        _walk(document, schema.get("items", {}), f"{at}[]", found)
    elif kind == "string":
        fmt = schema.get("format")
        if fmt in _BOUNDED_FORMATS:
            # The bounds as a pattern too: generators and clients ignore formatMinimum.
            if "formatMinimum" not in schema or "formatMaximum" not in schema:
                found.append(f"{at} ({fmt} without bounds)")
            elif "pattern" not in schema:
                found.append(f"{at} ({fmt} without its pattern)")
        elif not (
            "pattern" in schema or "enum" in schema or "const" in schema or fmt in _SAFE_FORMATS
        ):
            found.append(f"{at} (text without a pattern)")
    elif kind == "integer" and ("minimum" not in schema or "maximum" not in schema):
        found.append(f"{at} (integer without bounds)")
