"""The sweep: what an interrupted upload left behind, and the objects of deleted and
quarantined files once their retention period is over.

An upload reserves its row before writing its object, so an object never exists without
a row pointing at it; a row left ``uploading`` (the process or the database went away
before the upload finished) is the trace of every possible orphan. Removing an object is
idempotent, so replicas sweeping at once, or a sweep repeated after a crash, do no harm.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from attachments.files import service
from attachments.files.models import Attachment
from attachments.runtime import AttachmentsRuntime
from attachments.storage.s3 import StorageUnavailable

log = logging.getLogger("helpdesk.attachments.sweep")
BATCH = 100


@dataclass
class Swept:
    interrupted: int = 0
    purged: int = 0


async def _remove_objects(runtime: AttachmentsRuntime, attachment: Attachment) -> None:
    for key in (attachment.object_key, attachment.thumbnail_key):
        if key is not None:
            await runtime.store.remove(key)


async def _sweep_interrupted(runtime: AttachmentsRuntime, now: datetime) -> int:
    cutoff = now - timedelta(seconds=runtime.settings.orphan_after_seconds)
    async with runtime.sessionmaker() as session, session.begin():
        rows = (
            await session.scalars(
                sa.select(Attachment)
                .where(Attachment.state == "uploading", Attachment.updated_at < cutoff)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for attachment in rows:
            await _remove_objects(runtime, attachment)
            await service.release(session, attachment_id=attachment.id)
    return len(rows)


async def _purge_expired(runtime: AttachmentsRuntime, now: datetime) -> int:
    cutoff = now - timedelta(days=runtime.settings.retention_days)
    expired = sa.or_(
        sa.and_(Attachment.state == "removed", Attachment.removed_at < cutoff),
        sa.and_(
            Attachment.state == "stored",
            Attachment.scan_status == "infected",
            Attachment.scanned_at < cutoff,
        ),
    )
    async with runtime.sessionmaker() as session, session.begin():
        rows = (
            await session.scalars(
                sa.select(Attachment).where(expired).limit(BATCH).with_for_update(skip_locked=True)
            )
        ).all()
        for attachment in rows:
            await _remove_objects(runtime, attachment)
            attachment.state = "purged"
            attachment.updated_at = now
    return len(rows)


async def sweep_once(runtime: AttachmentsRuntime, *, now: datetime | None = None) -> Swept:
    """One pass, batch after batch until nothing is left to do."""
    now = now or service.now()
    swept = Swept()
    while count := await _sweep_interrupted(runtime, now):
        swept.interrupted += count
    while count := await _purge_expired(runtime, now):
        swept.purged += count
    if swept.interrupted or swept.purged:
        log.info(
            "swept %d interrupted uploads, purged %d expired objects",
            swept.interrupted,
            swept.purged,
        )
    return swept


async def sweeper(runtime: AttachmentsRuntime) -> None:
    while True:
        await asyncio.sleep(runtime.settings.sweep_interval_seconds)
        try:
            await sweep_once(runtime)
        except StorageUnavailable as exc:
            log.warning("sweep postponed, storage unavailable: %s", exc)
