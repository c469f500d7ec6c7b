"""The error responses of every route, declared in the service's OpenAPI document.

Clients generate code from the document and the contract test (``tests/test_api_contract.py``)
fuzzes every operation against it, so each status a route can answer is declared, with the
one error shape (:mod:`helpdesk_common.errors`) as the component ``Error``:

- **Derived from what the route depends on** (:func:`install_declared_responses`, called
  by the app factory), so that a new route is declared right without anyone remembering:
  a bearer token (``CurrentUser``) 401; a role check (``require_roles``) 403; the internal
  token 401 and 403; any parameter or body 422; a path parameter 404 (what it names may
  not exist, or the caller may not see it); an ``If-Match`` header 412; a JSON body 400
  ``invalid_json``; any body 413;
  every route 503 with ``Retry-After`` (the database or the broker unreachable); the
  health probes (``/health/...``) are left as they are.
- **Declared by the route** for what only it answers (a conflict, a stale version, a
  missing ``If-Match``, a throttle): ``responses=errors(409, 412, 428)``. A status the
  route declares with a description alone gets the ``Error`` body here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from helpdesk_common.auth import get_principal, require_internal_caller

ERROR_SCHEMA = "Error"
ERROR_REF = f"#/components/schemas/{ERROR_SCHEMA}"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class FieldError(BaseModel):
    field: str = Field(description="The input concerned: a body path, a parameter or header")
    message: str


class ErrorDetail(BaseModel):
    # Further facts of some errors (a stale record's current version, a holder's name).
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable machine-readable reason, e.g. `validation_error`")
    message: str = Field(description="What went wrong, for people")
    fields: list[FieldError] = Field(
        default_factory=list, description="The inputs at fault (left out when none)"
    )


class Error(BaseModel):
    """Every error response of every service and the gateway."""

    error: ErrorDetail
    request_id: str | None = Field(description="The request's X-Request-ID, for the logs")


def error_schemas() -> dict[str, Any]:
    """The components ``Error``, ``ErrorDetail`` and ``FieldError`` of a document."""
    schema = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {**definitions, ERROR_SCHEMA: schema}


RETRY_AFTER: dict[str, Any] = {
    "description": "Seconds to wait before trying again",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}
WWW_AUTHENTICATE: dict[str, Any] = {
    "description": "`Bearer`: how to authenticate",
    "schema": {"type": "string"},
}

DESCRIPTIONS: dict[int, str] = {
    400: "The body is not valid JSON (`invalid_json`)",
    401: "No valid bearer token (`not_authenticated`, `invalid_token`, `token_expired`,"
    " `account_disabled`)",
    403: "The caller's role may not do this (`forbidden`)",
    404: "What the path names does not exist, or the caller may not see it",
    409: "The current state does not allow this (an illegal transition, a duplicate)",
    412: "`If-Match` names an older version of the record: fetch it again",
    413: "The request body is over the limit (`body_too_large`)",
    415: "The content is of a type not accepted here",
    416: "The requested range is outside the content",
    422: "A value breaks the schema or a rule (`validation_error` and others, naming the fields)",
    428: "This change needs an `If-Match` header with the record's version",
    429: "Too many requests: try again after `Retry-After` seconds",
    502: "The gateway got no valid answer from the service (`bad_gateway`)",
    503: "A dependency (database, message broker, the service behind the gateway) is not"
    " reachable: try again after `Retry-After` seconds",
    504: "The service did not answer in time (`gateway_timeout`)",
}


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One error response of an operation, with the ``Error`` body (and its headers)."""
    response: dict[str, Any] = {
        "description": description or DESCRIPTIONS.get(status, "Error"),
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": RETRY_AFTER}
    elif status == 401:
        response["headers"] = {"WWW-Authenticate": WWW_AUTHENTICATE}
    return response


def errors(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """A route's own error responses: ``responses=errors(404, 409)``; a description of
    its own as ``errors(409, s409="...")``."""
    return {
        status: {"description": described.get(f"s{status}") or DESCRIPTIONS.get(status, "Error")}
        for status in statuses
    }


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _is_role_check(call: Callable[..., Any]) -> bool:
    # require_roles(...) returns a closure per use; its qualified name says what it is.
    return getattr(call, "__qualname__", "").startswith("require_roles.")


def derived_statuses(route: Any, operation: dict[str, Any]) -> set[int]:
    """The error statuses ``route`` (an :class:`APIRoute` as included in the app) can
    answer by what it depends on and takes."""
    if route.path.startswith("/health/"):
        # Probes, not the API (the gateway does not serve them); ready's 503 has a body of
        # its own, declared by the route.
        return set()
    statuses = {503}
    calls = list(_calls(route.dependant))
    if get_principal in calls:
        statuses.add(401)
    if any(_is_role_check(call) for call in calls):
        statuses.add(403)
    if require_internal_caller in calls:
        statuses |= {401, 403}
    parameters = operation.get("parameters") or []
    if parameters or route.body_field is not None:
        statuses.add(422)
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.add(404)
    if any(parameter.get("name", "").lower() == "if-match" for parameter in parameters):
        statuses.add(412)  # the version it names is not the record's
    body = operation.get("requestBody")
    if body is not None:
        statuses |= {413, 422}
        if "application/json" in (body.get("content") or {}):
            statuses.add(400)
    return statuses


def _declare(operation: dict[str, Any], statuses: set[int]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), {})
    for key, response in responses.items():
        if not key.isdigit() or int(key) < 400:
            continue
        status = int(key)
        declared = error_response(status, response.get("description"))
        content = response.get("content") or {}
        schema = (content.get("application/json") or {}).get("schema") or {}
        if not content or schema.get("$ref", "").endswith("/HTTPValidationError"):
            response["content"] = declared["content"]
        if "headers" in declared:
            response["headers"] = {**declared["headers"], **(response.get("headers") or {})}
        response["description"] = declared["description"]


def _drop_unused_validation_schemas(document: dict[str, Any]) -> None:
    """FastAPI's own 422 body (``{"detail": [...]}``) is never sent: its schemas go."""
    text = repr(document.get("paths"))
    schemas = (document.get("components") or {}).get("schemas") or {}
    if "HTTPValidationError" not in text:
        schemas.pop("HTTPValidationError", None)
        if "#/components/schemas/ValidationError" not in repr(schemas):
            schemas.pop("ValidationError", None)


def declare_responses(document: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """``document`` (the app's OpenAPI) with every operation's error responses declared."""
    paths = document.get("paths") or {}
    # Each route as the app serves it (an included router's prefix and dependencies added).
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        item = paths.get(route.path_format) or {}
        for method in route.methods or ():
            operation = item.get(method.lower())
            if isinstance(operation, dict):
                _declare(operation, derived_statuses(route, operation))
    _drop_unused_validation_schemas(document)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(error_schemas())
    return document


def install_declared_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare every route's error responses (built once, cached)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_responses(build(), list(app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
