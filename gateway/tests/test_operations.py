"""CORS, metrics, health, the combined OpenAPI document and the web client."""

from __future__ import annotations

import httpx

from gateway.openapi import merge_documents
from helpdesk_testing import free_port


async def test_cors_preflight_and_response_headers(run_gateway, upstream, auth):
    async with run_gateway(
        tickets_url=upstream, cors_origins="https://helpdesk.example.go.id"
    ) as gw:
        preflight = {
            "Origin": "https://helpdesk.example.go.id",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        }
        # Answered by the gateway without a token: browsers send preflights without one.
        response = await gw.options("/api/tickets/tickets", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == preflight["Origin"]
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "authorization" in response.headers["access-control-allow-headers"].lower()

        response = await gw.options(
            "/api/tickets/tickets", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers

        response = await gw.get(
            "/api/tickets/x", headers={**auth, "Origin": "https://helpdesk.example.go.id"}
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == preflight["Origin"]
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_no_cors_headers_by_default(gateway: httpx.AsyncClient, auth):
    response = await gateway.get("/api/tickets/x", headers={**auth, "Origin": "https://a.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_metrics(gateway: httpx.AsyncClient, auth):
    await gateway.get("/api/tickets/tickets/1", headers=auth)
    await gateway.get("/api/tickets/tickets/2", headers=auth)
    await gateway.get("/api/tickets/a1b2c3-not-a-route-prefix?status=404", headers=auth)
    await gateway.get("/api/tickets/x")  # 401
    response = await gateway.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'gateway_requests_total{route="/tickets",service="tickets",status="200"}' in text
    assert 'gateway_requests_total{route="other",service="tickets",status="404"}' in text
    assert 'gateway_requests_total{route="other",service="tickets",status="401"}' in text
    assert 'gateway_request_duration_seconds_bucket{le="0.005",route="/tickets"' in text
    assert "gateway_upstream_errors_total" in text
    assert "gateway_rate_limited_total" in text
    assert 'gateway_auth_failures_total{code="not_authenticated"}' in text


async def test_health(run_gateway, upstream):
    dead = f"http://127.0.0.1:{free_port()}"
    async with run_gateway(tickets_url=upstream, identity_url=dead) as gw:
        assert (await gw.get("/health/live")).json() == {"status": "ok"}
        response = await gw.get("/health/ready")
        # The gateway itself is ready even though one service is down.
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["services"]["tickets"] == "ok"
        assert body["services"]["identity"].startswith("unreachable")
        assert body["services"]["reports"] == "not_deployed"


def _service_doc(title: str, item_schema: dict, paths: dict) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {
                "Item": item_schema,
                "Error": {"type": "object", "properties": {"code": {"type": "string"}}},
            }
        },
    }


def test_merge_renames_clashing_components_and_rewrites_refs():
    item_ref = {"$ref": "#/components/schemas/Item"}
    error_ref = {"$ref": "#/components/schemas/Error"}
    op = {
        "operationId": "get_item",
        "tags": ["items"],
        "responses": {
            "200": {"content": {"application/json": {"schema": item_ref}}},
            "409": {"content": {"application/json": {"schema": error_ref}}},
        },
    }
    documents = {
        "tickets": _service_doc(
            "tickets",
            {"type": "object", "properties": {"title": {"type": "string"}}},
            {
                "/items/{id}": {"get": op},
                "/metrics": {"get": {}},
                "/health/ready": {"get": {}},
                "/internal/ticket-snapshots": {"get": {}},
            },
        ),
        "identity": _service_doc(
            "identity",
            {"type": "object", "properties": {"name": {"type": "string"}}},
            {"/items/{id}": {"get": op}, "/auth/login": {"post": {"operationId": "login"}}},
        ),
    }
    merged = merge_documents(documents, {"tickets": "ok", "identity": "ok"})
    schemas = merged["components"]["schemas"]
    # The services' Error is kept; the gateway adds the parts of its own error shape.
    assert set(schemas) == {"tickets_Item", "identity_Item", "Error", "ErrorDetail", "FieldError"}
    assert schemas["tickets_Item"]["properties"] == {"title": {"type": "string"}}
    tickets_op = merged["paths"]["/api/tickets/items/{id}"]["get"]
    content = tickets_op["responses"]["200"]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/tickets_Item"}
    conflict = tickets_op["responses"]["409"]["content"]["application/json"]
    assert conflict["schema"] == error_ref
    identity_op = merged["paths"]["/api/identity/items/{id}"]["get"]
    content = identity_op["responses"]["200"]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/identity_Item"}
    assert tickets_op["operationId"] == "tickets_get_item"
    assert tickets_op["tags"] == ["tickets: items"]
    # Service internals are not part of the public API.
    assert "/api/tickets/metrics" not in merged["paths"]
    assert "/api/tickets/health/ready" not in merged["paths"]
    assert "/api/tickets/internal/ticket-snapshots" not in merged["paths"]
    # The bearer scheme applies everywhere except the public routes.
    assert merged["security"] == [{"bearerAuth": []}]
    assert merged["paths"]["/api/identity/auth/login"]["post"]["security"] == []
    assert "security" not in tickets_op
    # What the gateway answers itself is declared too: no token, the rate limit (with
    # Retry-After), dot segments in a path parameter, the service unreachable or slow.
    assert {"400", "401", "429", "502", "503", "504"} <= set(tickets_op["responses"])
    assert tickets_op["responses"]["409"]["content"]["application/json"]["schema"] == error_ref
    assert "Retry-After" in tickets_op["responses"]["429"]["headers"]
    login_responses = merged["paths"]["/api/identity/auth/login"]["post"]["responses"]
    assert "401" not in login_responses and "429" in login_responses
    # The inputs are left untouched (they are cached by nobody else, but still).
    assert documents["tickets"]["paths"]["/items/{id}"]["get"]["operationId"] == "get_item"


def test_merge_renames_a_model_alike_in_two_services_that_points_at_clashing_ones():
    # Page_Item_ reads the same in both documents but means two things: each service's Item
    # (seen in the contract fuzzer: notifications' delivery page pointed at integrations'
    # DeliveryOut, and its answers violated that schema).
    page = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}},
    }
    page_ref = {"$ref": "#/components/schemas/Page_Item_"}
    op = {"responses": {"200": {"content": {"application/json": {"schema": page_ref}}}}}
    documents = {}
    for service, field in (("tickets", "title"), ("identity", "name")):
        document = _service_doc(
            service,
            {"type": "object", "properties": {field: {"type": "string"}}},
            {"/items": {"get": op}},
        )
        document["components"]["schemas"]["Page_Item_"] = page
        documents[service] = document
    merged = merge_documents(documents, {"tickets": "ok", "identity": "ok"})
    schemas = merged["components"]["schemas"]
    assert "Page_Item_" not in schemas
    for service in ("tickets", "identity"):
        answer = merged["paths"][f"/api/{service}/items"]["get"]["responses"]["200"]
        assert answer["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{service}_Page_Item_"
        }
        items = schemas[f"{service}_Page_Item_"]["properties"]["items"]["items"]
        assert items == {"$ref": f"#/components/schemas/{service}_Item"}


async def test_combined_openapi_from_two_services(run_gateway, upstream, other_upstream):
    dead = f"http://127.0.0.1:{free_port()}"
    async with run_gateway(
        identity_url=upstream, tickets_url=other_upstream, reports_url=dead
    ) as gw:
        response = await gw.get("/api/openapi.json")  # public, no token
        assert response.status_code == 200
        document = response.json()
    paths = document["paths"]
    assert "/api/identity/items/{item_id}" in paths
    assert "/api/tickets/items/{item_id}" in paths
    assert "/api/identity/auth/login" in paths
    assert not [p for p in paths if p.endswith(("/metrics", "/health/ready"))]
    schemas = document["components"]["schemas"]
    assert {"identity_Item", "tickets_Item", "Shared"} <= set(schemas)
    assert "Item" not in schemas
    assert document["x-services"] == {
        "identity": "ok",
        "tickets": "ok",
        "notifications": "not_deployed",
        "attachments": "not_deployed",
        "reports": "unavailable",
        "integrations": "not_deployed",
    }


async def test_openapi_is_cached(run_gateway, upstream):
    async with run_gateway(identity_url=upstream, openapi_cache_seconds=60) as gw:
        first = (await gw.get("/api/openapi.json")).json()
        aggregator = gw.app.state.openapi
        assert await aggregator.document() is await aggregator.document()
        assert (await gw.get("/api/openapi.json")).json() == first


async def test_swagger_ui_is_served_whole_by_the_gateway(gateway: httpx.AsyncClient):
    response = await gateway.get("/api/docs")
    assert response.status_code == 200
    assert "/api/openapi.json" in response.text
    # Nothing from a CDN: an intranet without internet access gets working docs.
    assert "cdn." not in response.text and "https://" not in response.text.split("<body>")[0]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/api/docs/assets/{asset}" in response.text
        served = await gateway.get(f"/api/docs/assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000, asset


async def test_web_client(gateway: httpx.AsyncClient):
    response = await gateway.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == (await gateway.get("/index.html")).text
    # The sign-in page may not be framed, and loads nothing from elsewhere.
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    missing = await gateway.get("/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_unknown_api_path_is_json_404(gateway: httpx.AsyncClient):
    response = await gateway.get("/api/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
