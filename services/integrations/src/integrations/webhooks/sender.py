"""The webhook sender: POSTs due deliveries, signed, and records each attempt.

Every replica runs one. Each round claims due deliveries with ``FOR UPDATE SKIP LOCKED``
and a lease (``webhook_lease_seconds``), so two replicas never send the same one and a
crashed replica's deliveries are taken up when its lease ends; only the oldest outstanding
delivery of a (webhook, ticket) is due, so a ticket's events arrive in order. Before each
attempt the URL's host is resolved and checked again (:mod:`integrations.webhooks.guard`)
and the connection goes to the checked address, with the URL's host in ``Host`` and as the
TLS server name (SNI and certificate check). Redirects are not followed (a 3xx fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from datetime import timedelta

import httpx
from prometheus_client import Counter, Gauge, Histogram

from integrations.runtime import IntegrationsRuntime
from integrations.webhooks import service
from integrations.webhooks.guard import IPAddress, Target, UrlRefused, check_url
from integrations.webhooks.models import Webhook, WebhookDelivery
from integrations.webhooks.signing import signature

log = logging.getLogger("integrations.webhooks")

DELIVERIES = Counter(
    "integrations_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (succeeded, retrying, failed: given up)",
    ["outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "integrations_webhook_attempt_seconds",
    "Duration of one webhook POST (connect to response)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BACKLOG = Gauge("integrations_webhook_backlog", "Webhook deliveries pending or retrying")
DISABLED = Counter(
    "integrations_webhooks_disabled_total", "Webhooks disabled after failing for too long"
)

RESPONSE_EXCERPT_BYTES = 2048
USER_AGENT = "Helpdesk-Webhooks/1"
PURGE_INTERVAL_SECONDS = 600.0
FINISH_RETRY_PAUSES = (
    0.5,
    1.0,
    2.0,
    4.0,
)  # how often done deliveries past the retention are deleted


def new_client(verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """No proxies from the environment (they would bypass the address check), no redirects,
    no kept-alive connections (a pooled connection is keyed by address and could carry
    another host's TLS name)."""
    return httpx.AsyncClient(
        verify=verify,
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def _request_to(target: Target, address: IPAddress) -> tuple[httpx.URL, str, dict[str, object]]:
    """The URL with the checked address for host, the ``Host`` header and (https) the TLS
    server name: the connection goes where the check said, named as the URL names it."""
    url = httpx.URL(target.url)
    host_header = url.netloc.decode("ascii")
    extensions: dict[str, object] = {}
    if target.scheme == "https":
        extensions["sni_hostname"] = url.raw_host.decode("ascii")  # an IDN as its A-label
    return url.copy_with(host=str(address)), host_header, extensions


class Attempt:
    """What one POST came to."""

    def __init__(self) -> None:
        self.ok = False
        self.status_code: int | None = None
        self.error: str | None = None
        self.excerpt: str | None = None


async def post(
    client: httpx.AsyncClient,
    *,
    delivery: WebhookDelivery,
    webhook: Webhook,
    secret: str,
    allowed_networks: list[str],
    timeout: float,
) -> Attempt:
    """One signed POST of ``delivery`` to ``webhook``'s URL (checked first)."""
    attempt = Attempt()
    try:
        target = await check_url(webhook.url, allowed_networks=allowed_networks)
    except UrlRefused as refused:
        attempt.error = f"{refused.code}: {refused.reason}"
        return attempt
    body = delivery.request_body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Helpdesk-Event": delivery.event_type,
        "X-Helpdesk-Delivery": str(delivery.id),
        "X-Helpdesk-Timestamp": str(timestamp),
        "X-Helpdesk-Signature": signature(secret, timestamp, body),
    }
    try:
        async with asyncio.timeout(timeout):
            for index, address in enumerate(target.addresses):
                url, host_header, extensions = _request_to(target, address)
                request = client.build_request(
                    "POST",
                    url,
                    content=body,
                    headers={**headers, "Host": host_header},
                    extensions=extensions,
                    timeout=httpx.Timeout(timeout),
                )
                try:
                    response = await client.send(request, stream=True)
                except httpx.ConnectError:
                    if index + 1 < len(target.addresses):
                        continue  # the host's next address (as a browser would)
                    raise
                break
            try:
                attempt.status_code = response.status_code
                excerpt = b""
                async for chunk in response.aiter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= RESPONSE_EXCERPT_BYTES:
                        break
            finally:
                await response.aclose()
        attempt.excerpt = excerpt[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace")
        attempt.excerpt = attempt.excerpt.replace("\x00", "\ufffd")
        attempt.ok = 200 <= response.status_code < 300
        if not attempt.ok:
            attempt.error = f"HTTP {response.status_code}"
    except TimeoutError:
        attempt.error = f"timeout: no answer within {timeout:g} s"
    except (httpx.HTTPError, OSError) as exc:
        attempt.error = f"{type(exc).__name__}: {exc}"[:500].replace("\x00", "\ufffd")
    return attempt


async def deliver(
    runtime: IntegrationsRuntime,
    client: httpx.AsyncClient,
    delivery: WebhookDelivery,
    webhook: Webhook,
) -> str | None:
    """Attempt ``delivery`` and record it; its new status (None: the lease was lost)."""
    settings = runtime.settings
    started_at = service.utcnow()
    started = time.perf_counter()
    try:
        secret = runtime.cipher.decrypt(webhook.secret_encrypted)
    except Exception:
        attempt = Attempt()
        attempt.error = "secret_unreadable: enter the webhook's secret again"
    else:
        attempt = await post(
            client,
            delivery=delivery,
            webhook=webhook,
            secret=secret,
            allowed_networks=settings.webhook_allowed_networks,
            timeout=settings.webhook_timeout_seconds,
        )
    elapsed = time.perf_counter() - started
    ATTEMPT_SECONDS.observe(elapsed)
    assert delivery.lease_token is not None
    # Recording is retried a few times: the POST is done, and a record lost would have the
    # delivery sent again once its lease ends.
    for pause in (*FINISH_RETRY_PAUSES, None):
        try:
            async with runtime.sessionmaker() as session, session.begin():
                result = await service.finish_attempt(
                    session,
                    delivery_id=delivery.id,
                    lease_token=delivery.lease_token,
                    started_at=started_at,
                    ok=attempt.ok,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    response_excerpt=attempt.excerpt,
                    duration_ms=round(elapsed * 1000),
                    retry_initial=settings.webhook_retry_initial_seconds,
                    retry_cap=settings.webhook_retry_max_seconds,
                    retry_window=settings.webhook_retry_window_seconds,
                    disable_after=settings.webhook_disable_after_seconds,
                )
            break
        except Exception as exc:
            if pause is None:
                raise
            log.warning(
                "delivery %s: recording failed, again in %.1fs: %r", delivery.id, pause, exc
            )
            await asyncio.sleep(pause)
    if result is None:
        log.warning("delivery %s: lease lost, another sender took it over", delivery.id)
        return None
    status, disabled = result
    DELIVERIES.labels(status).inc()
    if disabled:
        DISABLED.inc()
        log.warning("webhook %s (%s) disabled: failing too long", webhook.id, webhook.name)
    if not attempt.ok:
        log.info(
            "delivery %s to webhook %s failed (%s), now %s",
            delivery.id,
            webhook.id,
            attempt.error,
            status,
        )
    return status


async def _deliver_logged(
    runtime: IntegrationsRuntime,
    client: httpx.AsyncClient,
    delivery: WebhookDelivery,
    webhook: Webhook,
) -> None:
    try:
        await deliver(runtime, client, delivery, webhook)
    except Exception as exc:
        # Recorded nowhere (the database failed?): its lease ends and it is tried again.
        log.error("delivery %s: %r", delivery.id, exc)


async def claim(
    runtime: IntegrationsRuntime, *, limit: int
) -> list[tuple[WebhookDelivery, Webhook]]:
    """Up to ``limit`` due deliveries, leased to this sender."""
    async with runtime.sessionmaker() as session, session.begin():
        claimed = await service.claim_due(
            session,
            now=service.utcnow(),
            limit=limit,
            lease=timedelta(seconds=runtime.settings.webhook_lease_seconds),
        )
        session.expunge_all()
    return claimed


async def webhook_sender(runtime: IntegrationsRuntime) -> None:
    """The worker: keeps up to ``webhook_concurrency`` attempts going, claiming more as
    soon as one ends or new deliveries are committed (this process's wake-up), else every
    poll interval (other replicas' work)."""
    settings = runtime.settings
    backoff = settings.webhook_poll_seconds
    gauge_due = purge_due = 0.0
    client = new_client()
    in_flight: set[asyncio.Task[None]] = set()
    try:
        with service.SENDER_WAKEUP.waiter() as wakeup:

            def finished(task: asyncio.Task[None]) -> None:
                in_flight.discard(task)
                wakeup.set()  # a free slot

            while True:
                try:
                    wakeup.clear()
                    free = settings.webhook_concurrency - len(in_flight)
                    claimed = await claim(runtime, limit=free) if free > 0 else []
                    for delivery, webhook in claimed:
                        task = asyncio.create_task(
                            _deliver_logged(runtime, client, delivery, webhook)
                        )
                        in_flight.add(task)
                        task.add_done_callback(finished)
                    backoff = settings.webhook_poll_seconds
                    if time.monotonic() >= gauge_due:
                        gauge_due = time.monotonic() + 10
                        async with runtime.sessionmaker() as session:
                            BACKLOG.set(await service.backlog(session))
                    if time.monotonic() >= purge_due:
                        purge_due = time.monotonic() + PURGE_INTERVAL_SECONDS
                        async with runtime.sessionmaker() as session, session.begin():
                            await service.purge_log(
                                session,
                                older_than=timedelta(days=settings.webhook_log_retention_days),
                            )
                    if claimed and len(claimed) == free:
                        continue  # more may be due: claim again (a slot frees first if none)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(settings.webhook_poll_seconds):
                            await wakeup.wait()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("webhook sender round failed, again in %.1fs: %r", backoff, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(30.0, backoff * 2)
    finally:
        for task in in_flight:
            task.cancel()  # their leases end; this or another replica tries them again
        await asyncio.gather(*in_flight, return_exceptions=True)
        await client.aclose()


__all__ = ["claim", "deliver", "new_client", "post", "webhook_sender"]
