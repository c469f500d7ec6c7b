"""The gateway's own operations endpoints: liveness, readiness, Prometheus metrics.

Readiness answers 200 whenever the gateway itself can serve: a service being down is not a
reason to take the gateway out of the load balancer (it still answers that service's paths
with a clear 503 and serves every other service). The body reports each service's own
readiness, probed with a short timeout, for operators and dashboards.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.settings import SERVICES
from gateway.upstreams import Upstream, fetch_json


async def _probe(upstream: Upstream, timeout: float) -> str:
    try:
        status, _ = await fetch_json(upstream, "/health/ready", timeout=timeout)
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok" if status == 200 else f"not ready: HTTP {status}"


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"], include_in_schema=False)

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready")
    async def ready(request: Request) -> dict[str, object]:
        upstreams: dict[str, Upstream] = request.app.state.proxy.upstreams
        timeout = request.app.state.settings.health_timeout
        results = await asyncio.gather(*(_probe(u, timeout) for u in upstreams.values()))
        probed = dict(zip(upstreams, results, strict=True))
        services = {name: probed.get(name, "not_deployed") for name in SERVICES}
        return {"status": "ok", "services": services}

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
