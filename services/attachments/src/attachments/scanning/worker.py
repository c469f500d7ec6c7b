"""The scan worker: each stored file still ``pending`` is streamed from storage to clamd
and gets its verdict; malware is quarantined (``attachment.quarantined``).

Replicas share the work through ``FOR UPDATE SKIP LOCKED``. While the scanner (or the
storage) is down the files stay pending and the worker tries again every
``scan_poll_seconds``; an upload wakes it at once.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from prometheus_client import Gauge

from attachments.files.models import Attachment
from attachments.files.service import SCANS, record_scan
from attachments.runtime import AttachmentsRuntime
from attachments.scanning.clamd import ScannerUnavailable, scan_stream, scanner_ready
from attachments.storage.s3 import ObjectMissing, StorageUnavailable

log = logging.getLogger("helpdesk.attachments.scan")

PENDING = Gauge("attachments_scan_pending", "Stored files waiting for a malware scan")
SCANNER_UP = Gauge("attachments_scanner_up", "1 while clamd answers, 0 while it does not")


class _Outage:
    """One log line when the scanner goes away and one when it is back, not one per file."""

    def __init__(self) -> None:
        self.down = False

    def failed(self, reason: str) -> None:
        SCANNER_UP.set(0)
        if not self.down:
            log.warning("malware scanning paused: %s; files stay pending", reason)
        self.down = True

    def ok(self) -> None:
        SCANNER_UP.set(1)
        if self.down:
            log.info("malware scanning resumed")
        self.down = False


async def scan_next(runtime: AttachmentsRuntime) -> bool:
    """Scan the oldest pending file; False when there is none."""
    settings = runtime.settings
    async with runtime.sessionmaker() as session, session.begin():
        attachment = await session.scalar(
            sa.select(Attachment)
            .where(Attachment.state == "stored", Attachment.scan_status == "pending")
            .order_by(Attachment.uploaded_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if attachment is None:
            return False
        body = await runtime.store.open(attachment.object_key)
        chunks = runtime.store.chunks(body)  # an async generator: closed below
        try:
            result = await scan_stream(
                chunks,
                host=settings.clamd_host,
                port=settings.clamd_port,
                timeout=settings.clamd_timeout_seconds,
                max_bytes=settings.scan_max_bytes,
            )
        finally:
            await chunks.aclose()
        await record_scan(
            session, attachment=attachment, status=result.status, signature=result.signature
        )
        SCANS.labels(result.status).inc()
        if result.status == "infected":
            log.warning(
                "attachment %s of ticket %s quarantined: %s",
                attachment.id,
                attachment.ticket_id,
                result.signature,
            )
    return True


async def count_pending(runtime: AttachmentsRuntime) -> int:
    async with runtime.sessionmaker() as session:
        return int(
            await session.scalar(
                sa.select(sa.func.count())
                .select_from(Attachment)
                .where(Attachment.state == "stored", Attachment.scan_status == "pending")
            )
            or 0
        )


async def scan_pending(runtime: AttachmentsRuntime, outage: _Outage | None = None) -> int:
    """Scan until nothing is pending or the scanner/storage fails; the number scanned."""
    outage = outage or _Outage()
    settings = runtime.settings
    if outage.down and not await scanner_ready(
        host=settings.clamd_host, port=settings.clamd_port, timeout=settings.clamd_timeout_seconds
    ):
        # Still down: a PING, rather than reading a file back from storage every poll.
        return 0
    scanned = 0
    while True:
        try:
            if not await scan_next(runtime):
                outage.ok()
                return scanned
        except (ScannerUnavailable, StorageUnavailable) as exc:
            outage.failed(f"{type(exc).__name__}: {exc}")
            return scanned
        except ObjectMissing as exc:  # a stored row must have its object: say so loudly
            log.error("a pending file's object is missing: %r", exc)
            return scanned
        scanned += 1


async def scan_worker(runtime: AttachmentsRuntime) -> None:
    if not runtime.settings.scan_enabled:
        return
    outage = _Outage()
    with runtime.scan_requested.waiter() as requested:
        while True:
            requested.clear()
            await scan_pending(runtime, outage)
            PENDING.set(await count_pending(runtime))
            # asyncio.wait, not asyncio.timeout: on Python 3.11 the latter can swallow a
            # cancellation that coincides with its deadline.
            waiting = asyncio.ensure_future(requested.wait())
            try:
                await asyncio.wait({waiting}, timeout=runtime.settings.scan_poll_seconds)
            finally:
                waiting.cancel()
