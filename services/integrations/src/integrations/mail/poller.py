"""The mailbox poller: a worker of every replica. Each tick it takes the lease of the
active mailboxes whose poll is due (one poller per mailbox at a time across replicas),
reads their unprocessed mails over IMAP and processes them one by one, in order; a mail is
marked processed in IMAP only after its outcome is committed. A mailbox that cannot be
reached is tried again after an exponential back-off, shown in its status and metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.utils
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge

from integrations.intake.attachments_api import AttachmentsUnavailable
from integrations.intake.tickets_api import TicketsUnavailable
from integrations.mail import service
from integrations.mail.imap import ImapError, ImapSession, in_thread, open_session
from integrations.mail.process import MailboxConfig, process
from integrations.runtime import IntegrationsRuntime

log = logging.getLogger("integrations.mail")
T = TypeVar("T")

MAILBOX_UP = Gauge(
    "integrations_mailbox_up", "1 while the mailbox's last poll succeeded, else 0", ["mailbox"]
)
MAILBOX_FAILURES = Counter(
    "integrations_mailbox_failures", "Polls of a mailbox that failed", ["mailbox"]
)


class Unreachable(Exception):
    """A service the mail needs is down: stop this poll, nothing marked, try again later."""


def sender_of(header: bytes) -> str:
    """The address of a raw From header (lower case), "" when there is none."""
    message = email.message_from_bytes(header)
    return email.utils.parseaddr(str(message.get("From", "")))[1].strip().lower()


async def _process_batch(
    runtime: IntegrationsRuntime, config: MailboxConfig, imap: ImapSession, uids: list[int]
) -> None:
    """Process a batch: one sender's mails in order (their replies follow their requests,
    the throttle counts them one by one), different senders side by side (at most
    ``mail_concurrency`` at once); IMAP commands one at a time on the one connection."""
    lock = asyncio.Lock()

    async def imap_call(fn: Callable[..., T], *args: Any) -> T:
        async with lock:
            return await in_thread(fn, *args)

    headers = await imap_call(imap.senders, uids)
    groups: dict[str, list[int]] = {}
    for uid in uids:
        groups.setdefault(sender_of(headers.get(uid, b"")), []).append(uid)
    slots = asyncio.Semaphore(runtime.settings.mail_concurrency)

    async def one_sender(group: list[int]) -> None:
        async with slots:
            for uid in group:
                raw = await imap_call(imap.fetch, uid)
                if raw is None:
                    continue
                try:
                    await process(runtime, config, raw)
                except (TicketsUnavailable, AttachmentsUnavailable) as exc:
                    raise Unreachable(str(exc)) from exc
                # Committed: now (and only now) the mail is marked done.
                await imap_call(imap.mark_processed, uid)

    outcomes = await asyncio.gather(
        *(one_sender(group) for group in groups.values()), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def poll_mailbox(
    runtime: IntegrationsRuntime,
    mailbox_id: uuid.UUID,
    *,
    owner: str,
    session_factory: type[ImapSession] | None = None,
) -> None:
    """One poll of a mailbox whose lease ``owner`` holds: every unprocessed mail (in
    batches, renewing the lease), then the lease released with the outcome."""
    settings = runtime.settings
    started = datetime.now(UTC)
    async with runtime.sessionmaker() as db, db.begin():
        mailbox = await service.get_mailbox(db, mailbox_id=mailbox_id)
        account = service.account_of(runtime, mailbox)
        config = MailboxConfig(
            id=mailbox.id,
            name=mailbox.name,
            default_unit_id=mailbox.default_unit_id,
            default_category_id=mailbox.default_category_id,
            unknown_senders=mailbox.unknown_senders,
        )
    error: str | None = None
    # The tickets or attachments service (not the mailbox) failed: a short back-off.
    waiting = False
    more = False
    imap: ImapSession | None = None
    try:
        factory = session_factory or ImapSession
        imap = await in_thread(factory, account)
        while True:
            uids = await in_thread(imap.unprocessed, settings.mail_batch_size)
            await _process_batch(runtime, config, imap, uids)
            if len(uids) < settings.mail_batch_size:
                break
            # A full batch: more mail waits. Keep the lease (or stop if another took it).
            async with runtime.sessionmaker() as db, db.begin():
                kept = await service.renew_lease(
                    db,
                    mailbox_id=mailbox_id,
                    owner=owner,
                    lease_seconds=settings.mail_lease_seconds,
                )
            if not kept:
                more = True
                break
    except ImapError as exc:
        error = str(exc)
    except Unreachable as exc:
        error = f"waiting for a service: {exc}"
        waiting = True
    except Exception as exc:  # a bug must not stop the mailbox forever: back off, log
        log.exception("mailbox poll failed", extra={"mailbox_id": str(mailbox_id)})
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if imap is not None:
            await in_thread(imap.close)
    async with runtime.sessionmaker() as db, db.begin():
        await service.finish_poll(
            db,
            mailbox_id=mailbox_id,
            owner=owner,
            error=error,
            backoff_initial=(
                settings.mail_service_retry_seconds
                if waiting
                else settings.mail_backoff_initial_seconds
            ),
            backoff_max=settings.mail_backoff_max_seconds,
            again_now=more and error is None,
            started_at=started,
        )
    MAILBOX_UP.labels(config.name).set(0 if error else 1)
    if error:
        MAILBOX_FAILURES.labels(config.name).inc()
        log.warning("mailbox poll failed: %s", error, extra={"mailbox_id": str(mailbox_id)})


async def check_mailbox(
    runtime: IntegrationsRuntime, mailbox_id: uuid.UUID
) -> tuple[bool, str | None, int | None]:
    """Connect now (for the admin's check button): ok, the error, the folder's count."""
    async with runtime.sessionmaker() as db, db.begin():
        mailbox = await service.get_mailbox(db, mailbox_id=mailbox_id)
        # An administrator waits for the answer: at most 10 s per network step.
        account = dataclasses.replace(
            service.account_of(runtime, mailbox),
            timeout=min(runtime.settings.mail_imap_timeout_seconds, 10.0),
        )
    try:
        imap = await open_session(account)
    except ImapError as exc:
        return False, str(exc), None
    try:
        count = await in_thread(imap.message_count)
    except Exception as exc:
        return False, str(exc), None
    finally:
        await in_thread(imap.close)
    return True, None, count


async def mail_poller(runtime: IntegrationsRuntime) -> None:
    settings = runtime.settings
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    running: dict[uuid.UUID, asyncio.Task[None]] = {}
    while True:
        # Finished polls first: a mailbox claimed below must not find its last poll's task.
        for mailbox_id, task in list(running.items()):
            if task.done():
                del running[mailbox_id]
                if not task.cancelled() and task.exception() is not None:
                    log.error("mailbox poll crashed", exc_info=task.exception())
        try:
            async with runtime.sessionmaker() as db, db.begin():
                due = await service.claim_due(
                    db, owner=owner, lease_seconds=settings.mail_lease_seconds
                )
            for mailbox_id in due:
                if mailbox_id not in running:
                    running[mailbox_id] = asyncio.create_task(
                        poll_mailbox(runtime, mailbox_id, owner=owner)
                    )
        except Exception:
            log.exception("mail poller tick failed")
        try:
            await asyncio.sleep(settings.mail_tick_seconds)
        except asyncio.CancelledError:
            for task in running.values():
                task.cancel()
            raise
