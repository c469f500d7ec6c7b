"""The service application factory: one place wires database, bus, relay and observability.

A service supplies its routers, migrations folder, consumers, runtime builder and background
workers; ``create_service_app`` returns a FastAPI app that on start applies migrations,
builds the service's runtime (:mod:`helpdesk_common.runtime`), connects to the broker
(retrying in the background), runs the outbox relay and the consumers, and serves
``/metrics``, ``/health/live`` and ``/health/ready``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, cast

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from helpdesk_common.bus import Bus
from helpdesk_common.consumer import Consumer, start_consumer
from helpdesk_common.db import create_driver_pool, create_engine, create_sessionmaker
from helpdesk_common.dead_letters import dead_letter_router
from helpdesk_common.edge import ServiceEdgeMiddleware
from helpdesk_common.errors import install_error_handlers, log_failure
from helpdesk_common.idempotency import has_idempotent_routes, sweep_idempotency_keys
from helpdesk_common.inputs import declare_text_guard
from helpdesk_common.migrations import upgrade_to_head
from helpdesk_common.observability import NO_OPENTELEMETRY, configure_logging
from helpdesk_common.outbox import run_relay
from helpdesk_common.queue_depths import sample_queue_depths
from helpdesk_common.responses import install_declared_responses
from helpdesk_common.runtime import BuildRuntime, R, Runtime, get_runtime
from helpdesk_common.settings import ServiceSettings
from helpdesk_common.standing import StandingSource, load_all, standing_worker

log = logging.getLogger("helpdesk.app")

# A background worker receives the service's runtime and runs until cancelled.
Worker = Callable[[R], Awaitable[None]]


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready")
    async def ready(runtime: Annotated[Runtime, Depends(get_runtime)]) -> JSONResponse:
        checks = {"database": "ok", "broker": "ok"}
        try:
            # Connecting is under the limit too: an unreachable database must not hang this.
            async with asyncio.timeout(2), runtime.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        if not runtime.bus.is_connected:
            checks["broker"] = "unavailable"
        elif not runtime.consumers_started:
            # Connected, but its queues are not declared and consumed yet.
            checks["broker"] = "starting"
        ok = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _supervise(name: str, worker: Callable[[], Awaitable[None]]) -> None:
    """Keep a background worker alive: log and restart it if it crashes."""
    while True:
        try:
            await worker()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Stopping: the worker failed while unwinding (a rollback on a connection
                # the cancellation broke). Restarting it would lose the cancellation and
                # keep the shutdown waiting forever.
                log.info("background worker %s stopped with %r", name, exc)
                raise asyncio.CancelledError from exc
            log_failure(log, f"background worker {name} crashed; restarting in 1s", exc)
            await asyncio.sleep(1)


@contextlib.contextmanager
def _settled_garbage_collector() -> Iterator[None]:
    """Keep the start-up's objects out of collections, and collect young objects less often.

    Under load the tickets service spent ~6 % of its CPU in the garbage collector and
    paused for up to 130 ms in full collections, which walked the ~150,000 objects of the
    framework, models and schemas every time: they are frozen (never collected; they live
    as long as the app). A request allocates thousands of container objects, so with the
    default threshold (700) the young generation was collected during most requests and
    their live objects promoted, to be walked again; at 10,000 most of them are gone by
    then. Together: GC time per request down ~4x, full-collection pauses ~5-10 ms.
    """
    gc.collect()
    gc.freeze()
    previous = gc.get_threshold()
    gc.set_threshold(10_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()  # collectable again once this app is gone (tests start many)


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the background tasks and wait until they have finished, letting each clean up
    (the mail sender hands back what it claimed). A task whose cancellation was swallowed
    (Python 3.11's asyncio.timeout and wait_for can lose one that coincides with their own
    deadline: they "uncancel" the task) is cancelled again, so a shutdown never hangs."""
    for task in tasks:
        task.cancel()
    pending = {task for task in tasks if not task.done()}
    while pending:
        _, pending = await asyncio.wait(pending, timeout=0.2)
        for task in pending:
            if task.cancelling() == 0:  # no cancellation in flight any more: it was lost
                log.warning("background task %s lost its cancellation; again", task.get_name())
                task.cancel()


async def _close_pools(runtime: Runtime) -> None:
    if runtime.driver_pool is not None:
        await runtime.driver_pool.close()
    await runtime.engine.dispose()


async def _start_runtime(
    settings: ServiceSettings,
    *,
    migrations: Path | None,
    build_runtime: BuildRuntime[R] | None,
    user_standing: StandingSource | None,
) -> R:
    """Migrate, open the pools and build the service's runtime (closed again on failure)."""
    engine = create_engine(settings)
    base = Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        bus=Bus(settings),
    )
    try:
        if migrations is not None:
            await upgrade_to_head(
                engine=engine, script_location=migrations, schema=settings.schema_name
            )
        if settings.db_driver_pool_size:
            base.driver_pool = await create_driver_pool(settings)
        runtime = cast(R, base) if build_runtime is None else await build_runtime(base)
        if user_standing is not None:
            await load_all(runtime, user_standing)
    except BaseException:
        await _close_pools(base)
        raise
    return runtime


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    routers: Sequence[APIRouter] = (),
    migrations: Path | None = None,
    consumers: Sequence[Consumer] = (),
    build_runtime: BuildRuntime[R] | None = None,
    workers: Sequence[Worker[R]] = (),
    user_standing: StandingSource | None = None,
) -> FastAPI:
    """A service's app. On start it migrates, builds the runtime (``build_runtime`` turns
    the infrastructure into the service's own :class:`Runtime` subclass; without it the
    base runtime serves), connects to the broker and starts consumers, relay and
    ``workers`` (and the sweep of expired idempotency keys if a router's writes take them).
    ``user_standing``: where the users' current standing is in the service's own tables, to
    refuse a token whose user was disabled or whose role or unit changed since it was signed
    (kept current per change: :mod:`helpdesk_common.standing`), rather than until it expires.
    Request bodies over ``settings.max_body_bytes`` are refused with 413."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(
            service=settings.service_name, level=settings.log_level, json=settings.log_json
        )
        runtime = await _start_runtime(
            settings,
            migrations=migrations,
            build_runtime=build_runtime,
            user_standing=user_standing,
        )
        app.state.runtime = runtime
        bus = runtime.bus
        runtime.consumers_started = not consumers
        started: set[str] = set()

        async def connect_and_consume() -> None:
            await bus.connect()
            # Restarted after a failure: a consumer already consuming must not start twice.
            for consumer in consumers:
                if consumer.name not in started:
                    await start_consumer(bus, consumer, runtime.sessionmaker)
                    started.add(consumer.name)
            runtime.consumers_started = True

        async def relay() -> None:
            # Nothing to do before the first connection; later outages the relay rides out.
            await bus.wait_connected()
            await run_relay(
                runtime.sessionmaker,
                bus.publish,
                batch_size=settings.outbox_batch_size,
                poll_interval=settings.outbox_poll_interval,
                gather=settings.outbox_gather_seconds,
                retention=timedelta(days=settings.outbox_retention_days),
            )

        background: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("bus", connect_and_consume),
            ("outbox-relay", relay),
        ]
        if consumers:
            queues = [settings.queue_name(consumer.name) for consumer in consumers]
            background.append(
                (
                    "queue-depths",
                    partial(
                        sample_queue_depths,
                        bus,
                        queues,
                        interval=settings.queue_metrics_interval,
                    ),
                )
            )
        all_workers: list[Worker[R]] = list(workers)
        if user_standing is not None:
            all_workers.append(standing_worker(user_standing))
        if has_idempotent_routes(route for router in routers for route in router.routes):
            all_workers.append(sweep_idempotency_keys)
        for worker in all_workers:
            background.append((getattr(worker, "__name__", "worker"), partial(worker, runtime)))
        tasks = [asyncio.create_task(_supervise(name, run)) for name, run in background]
        log.info("%s started", settings.service_name)
        try:
            with _settled_garbage_collector():
                yield
        finally:
            await _cancel_all(tasks)
            await bus.close()
            await _close_pools(runtime)

    app = FastAPI(title=title, lifespan=lifespan, telemetry=NO_OPENTELEMETRY)
    # One layer for the request id, metrics, the body-size limit, the NUL guard on the path
    # and query (helpdesk_common.inputs) and the retry of a read whose database connection
    # died: four layers of their own cost a coroutine and closures each per request.
    app.add_middleware(ServiceEdgeMiddleware, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.include_router(health_router())
    if consumers:
        app.include_router(dead_letter_router([c.name for c in consumers]))
    for router in routers:
        app.include_router(router)
    # Every route's error responses in /openapi.json, derived from its dependencies.
    install_declared_responses(app)
    # ... and the NUL guard's pattern on every free-text query and path parameter.
    declare_text_guard(app)
    return app
