"""Routing: prefix stripping, methods, query strings, headers and request ids."""

from __future__ import annotations

import httpx

from helpdesk_testing import free_port


async def test_prefix_is_stripped_and_query_kept(gateway: httpx.AsyncClient, auth, recorder):
    response = await gateway.get("/api/tickets/tickets/123?a=1&b=x%20y&b=z", headers=auth)
    assert response.status_code == 200
    seen = response.json()
    assert seen["path"] == "/tickets/123"
    assert seen["query"] == "a=1&b=x%20y&b=z"
    assert response.headers["x-upstream"] == "echo"


async def test_service_root(gateway: httpx.AsyncClient, auth):
    response = await gateway.get("/api/tickets", headers=auth)
    assert response.json()["path"] == "/"
    response = await gateway.get("/api/tickets/", headers=auth)
    assert response.json()["path"] == "/"


async def test_percent_encoding_is_forwarded_unchanged(gateway: httpx.AsyncClient, auth):
    response = await gateway.get("/api/tickets/files/a%2Fb%20c", headers=auth)
    assert response.json()["raw_path"] == "/files/a%2Fb%20c"


async def test_methods_bodies_and_statuses(gateway: httpx.AsyncClient, auth):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await gateway.request(
            method,
            "/api/tickets/tickets/1?status=201",
            headers={**auth, "Content-Type": "application/json"},
            content=b'{"title": "Printer rusak"}',
        )
        assert response.status_code == 201
        seen = response.json()
        assert seen["method"] == method
        assert seen["body"] == '{"title": "Printer rusak"}'
        assert seen["headers"]["content-type"] == "application/json"
    response = await gateway.get("/api/tickets/x?status=409", headers=auth)
    assert response.status_code == 409


async def test_head_request(gateway: httpx.AsyncClient, auth):
    response = await gateway.head("/api/tickets/x", headers=auth)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["x-upstream"] == "echo"


async def test_redirects_are_passed_to_the_client(gateway: httpx.AsyncClient, auth):
    response = await gateway.get("/api/tickets/redirect", headers=auth)
    assert response.status_code == 307
    assert response.headers["location"] == "/elsewhere"


async def test_headers_forwarded_and_hop_by_hop_removed(gateway: httpx.AsyncClient, auth):
    response = await gateway.get(
        "/api/tickets/x",
        headers={
            **auth,
            "X-Custom": "kept",
            "Accept-Language": "id",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "dropped",
            "X-Forwarded-For": "1.1.1.1, 6.6.6.6",
        },
    )
    headers = response.json()["headers"]
    assert headers["authorization"] == auth["Authorization"]  # unchanged: services verify again
    assert headers["x-custom"] == "kept"
    assert headers["accept-language"] == "id"
    assert "x-secret-hop" not in headers
    # One address: the client's. No ingress is trusted by default, so what the client wrote
    # in X-Forwarded-For is replaced by its real address.
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == gateway.base_url.netloc.decode()
    assert headers["x-forwarded-prefix"] == "/api/tickets"
    # The client's own headers, not ones the gateway's HTTP client would substitute.
    assert headers["user-agent"] == response.request.headers["user-agent"]
    assert headers["accept-encoding"] == response.request.headers["accept-encoding"]


async def test_request_id_generated_forwarded_and_returned(gateway: httpx.AsyncClient, auth):
    response = await gateway.get("/api/tickets/x", headers=auth)
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert response.json()["headers"]["x-request-id"] == request_id
    assert response.headers.get_list("x-request-id") == [request_id]

    response = await gateway.get("/api/tickets/x", headers={**auth, "X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["headers"]["x-request-id"] == "abc-123"


async def test_request_id_on_gateway_errors(gateway: httpx.AsyncClient):
    response = await gateway.get("/api/tickets/x", headers={"X-Request-ID": "err-1"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "err-1"
    assert response.json()["request_id"] == "err-1"


async def test_service_internals_are_not_reachable(gateway: httpx.AsyncClient, auth, recorder):
    for path in ("/api/tickets/metrics", "/api/tickets/health/ready", "/api/tickets//metrics"):
        response = await gateway.get(path, headers=auth)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert recorder.requests == []


async def test_the_internal_service_api_is_never_forwarded(
    gateway: httpx.AsyncClient, auth, recorder
):
    for path in (
        "/api/tickets/internal/ticket-snapshots",
        "/api/tickets/internal/ticket-snapshots?cursor=x&limit=10",
        "/api/tickets/internal",
        "/api/tickets/internal/",
        "/api/tickets//internal/ticket-snapshots",
        "/api/tickets/%69nternal/ticket-snapshots",
        "/api/tickets/INTERNAL/ticket-snapshots",
        "/api/reports/internal/anything",
    ):
        for method in ("GET", "POST"):
            response = await gateway.request(
                method, path, headers={**auth, "X-Internal-Token": "guessed"}
            )
            assert response.status_code == 404, (method, path)
            assert response.json()["error"]["code"] == "not_found"
    assert recorder.requests == []
    # Only the first segment counts: a path that merely contains the word is forwarded.
    response = await gateway.get("/api/tickets/tickets/internal", headers=auth)
    assert response.status_code == 200
    assert response.json()["path"] == "/tickets/internal"
    response = await gateway.get("/api/tickets/internals", headers=auth)
    assert response.json()["path"] == "/internals"


async def test_dot_segments_are_refused(gateway: httpx.AsyncClient, auth, recorder):
    response = await gateway.get("/api/tickets/x/%2E%2E/metrics", headers=auth)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_path"
    assert recorder.requests == []


async def test_unknown_and_undeployed_services(gateway: httpx.AsyncClient, auth):
    response = await gateway.get("/api/nosuch/x", headers=auth)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

    response = await gateway.get("/api/reports/tickets.csv", headers=auth)
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == "service_not_deployed"
    assert "reports" in body["error"]["message"]


async def test_undeployed_service_still_requires_a_token(gateway: httpx.AsyncClient):
    response = await gateway.get("/api/reports/tickets.csv")
    assert response.status_code == 401


async def test_connection_refused_is_a_quick_503(run_gateway, auth):
    dead = f"http://127.0.0.1:{free_port()}"
    async with run_gateway(tickets_url=dead, connect_timeout=30) as client:
        response = await client.get("/api/tickets/tickets", headers=auth)
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "service_unavailable"
    assert "tickets" in body["error"]["message"]
    # Refused at once: no waiting for a connect or read timeout (far longer than this).
    assert response.elapsed.total_seconds() < 10
