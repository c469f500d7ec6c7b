"""The sender: claims due deliveries and sends them over several reused SMTP connections.

Three kinds of task cooperate in one process:
- new deliveries of this process's handlers arrive already claimed, in memory, as the
  handler's transaction commits (as many as there is room for: see
  :mod:`notifications.email.service`); the claimer takes the other due deliveries from
  PostgreSQL (``FOR UPDATE SKIP LOCKED``, so replicas share the work) when a handler left
  some unclaimed, else on a short poll (due retries, deliveries of another replica);
- ``email_send_concurrency`` workers, each with its own kept-open SMTP connection, send them;
- the recorder writes the outcomes back in batches (sent, retry later, failed), gathering
  them for ``RECORD_GATHER_SECONDS`` first.
Sending and recording are separate so that a mail goes out the moment it is claimed and the
database sees one short transaction per batch, not one per mail.

Delivery is at least once: should the process die after the server accepted a mail but
before the outcome was written, the mail goes out again when its claim's lease runs out
(with the same Message-ID, so mail clients can tell it is the same message).

No mail waits for the lease while its sender lives. Each sender has an id of its own
(``claimer``, in the rows' ``claimed_by``) and knows which rows it holds in memory: rows
claimed for it that never reached it (a commit, the handler's or a claim's, went through
although its caller got an error, as when PostgreSQL shuts down) it takes back after
``ORPHAN_AFTER_SECONDS``. On stop it first takes no more hand-overs and lets the handlers
that reserved room commit (or roll back), then hands back, due at once, every row claimed
for it that it has not sent, so the restarted process or another replica sends them now.
Rows another sender claimed are never touched: that one may be sending them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.email.compose import compose_message
from notifications.email.service import (
    SENDER_WAKEUP,
    Attachment,
    ClaimedDelivery,
    FailedAttempt,
    Handoff,
    claim_due,
    load_attachment,
    purge_finished,
    reclaim_own,
    record_results,
    release_own,
    unfinished_count,
)
from notifications.email.smtp import SmtpConnection, describe, is_permanent
from notifications.settings import NotificationsSettings
from notifications.settings_admin.service import SmtpConfigStore

log = logging.getLogger("notifications.sender")

EMAILS_SENT = Counter("notifications_emails_sent_total", "E-mails accepted by the SMTP server")
EMAIL_FAILURES = Counter(
    "notifications_email_failures_total",
    "Failed send attempts, by outcome (retry scheduled, or failed for good)",
    ["outcome"],
)
EMAIL_SEND_SECONDS = Histogram(
    "notifications_email_send_seconds",
    "Time to hand one e-mail to the SMTP server",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
EMAIL_DELIVERY_SECONDS = Histogram(
    "notifications_email_delivery_seconds",
    "From the delivery being queued to the SMTP server accepting it",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
EMAILS_IN_FLIGHT = Gauge("notifications_emails_in_flight", "Claimed deliveries not yet sent")
EMAIL_BACKLOG = Gauge(
    "notifications_email_backlog", "Deliveries not yet sent (pending or being sent), all replicas"
)

# The recorder waits this long for more outcomes before writing a batch. It delays nothing
# but the "sent" mark (the mail is out already); the price is that a crash in this window
# sends those mails again when their lease ends, as a crash before the write always did.
RECORD_GATHER_SECONDS = 0.05
# Attachments kept in memory (a report's PDF is a few hundred KB at most).
_ATTACHMENT_CACHE_SIZE = 8
# A row claimed for this sender but not held by it is taken back once its claim is this
# old: by then a hand-over still on its way (the handler's commit returning) has arrived.
ORPHAN_AFTER_SECONDS = 5.0
# How often the claim loop looks for such rows (one indexed query over its own claims).
ORPHAN_CHECK_SECONDS = 2.0
# How long a stopping sender waits for handlers that reserved room to commit or roll back.
HANDOFF_SETTLE_SECONDS = 5.0


def _raise_if_cancelled() -> None:
    """Stop a loop whose cancellation a library swallowed.

    On Python 3.11, ``asyncio.wait_for`` (used inside aiosmtplib and asyncpg) can drop a
    cancellation that arrives just as the awaited call completes; the task then runs on as if
    nothing happened. The request stays visible in ``Task.cancelling()``, so each loop checks it.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class EmailSender:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: NotificationsSettings,
        smtp_config: SmtpConfigStore,
        handoff: Handoff | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._handoff = handoff
        self._settings = settings
        self._smtp_config = smtp_config
        self._concurrency = settings.email_send_concurrency
        # Claim a little ahead of the workers so none of them waits on the database, and
        # refill only once half of that is used up: claims come in batches, not one per mail.
        self._capacity = self._concurrency * 4
        self._refill_at = self._capacity // 2
        self._lease = timedelta(seconds=settings.email_claim_lease_seconds)
        # Written into every row claimed for this sender (claimed_by).
        self._claimer = uuid.uuid4()
        # Room promised to handlers whose transactions have not committed yet.
        self._reserved = 0
        # Set whenever no reservation is left (a stopping sender waits for it).
        self._settled = asyncio.Event()
        self._running = False
        self._queue: asyncio.Queue[ClaimedDelivery] = asyncio.Queue()
        self._wakeup = asyncio.Event()
        # Claimed by this sender and not yet finished (queued or being sent).
        self._claimed: dict[uuid.UUID, ClaimedDelivery] = {}
        # Everything this sender holds: the claimed, and the finished until their outcome
        # is written. A row claimed for it that is not here never reached it.
        self._held: set[uuid.UUID] = set()
        self._next_orphan_check = 0.0
        self._stopped = False
        self._more_due = False
        self._sent: list[uuid.UUID] = []
        self._failures: list[FailedAttempt] = []
        self._results_ready = asyncio.Event()
        # An event's attachment goes to each of its recipients: read it once, not per mail.
        self._attachments: dict[uuid.UUID, Attachment] = {}

    # -- taking deliveries straight from this process's handlers ---------------------------

    @property
    def lease(self) -> timedelta:
        return self._lease

    @property
    def claimer(self) -> uuid.UUID:
        return self._claimer

    @property
    def reserved(self) -> int:
        """Room promised to handlers whose transactions have not ended yet."""
        return self._reserved

    def reserve(self, count: int) -> int:
        if not self._running:
            return 0
        room = self._capacity - len(self._claimed) - self._reserved
        taken = max(0, min(count, room))
        self._reserved += taken
        return taken

    def release(self, count: int) -> None:
        self._reserved = max(0, self._reserved - count)
        if self._reserved == 0:
            self._settled.set()
        if self._more_due:
            self._wakeup.set()  # room again for deliveries waiting in the database

    def accept(self, deliveries: list[ClaimedDelivery]) -> None:
        # Called as the handler's transaction commits: they are ours, claimed in the database.
        self.release(len(deliveries))
        if self._stopped:
            log.warning(
                "%d e-mail deliveries handed over after the sender stopped; "
                "they fall due when their claim's lease ends",
                len(deliveries),
            )
        self._take(deliveries)

    def _take(self, deliveries: list[ClaimedDelivery]) -> None:
        """Queue deliveries claimed for this sender, each once (a hand-over and a take-back
        of the same row can cross)."""
        for delivery in deliveries:
            if delivery.id in self._held:
                continue
            self._held.add(delivery.id)
            self._claimed[delivery.id] = delivery
            self._queue.put_nowait(delivery)
        EMAILS_IN_FLIGHT.set(len(self._claimed))

    async def run(self) -> None:
        with SENDER_WAKEUP.waiter(self._wakeup):
            await self._run()

    async def _run(self) -> None:
        self._running = True
        if self._handoff is not None:
            self._handoff.attach(self)
        workers = [
            asyncio.create_task(self._work(), name=f"smtp-sender-{n}")
            for n in range(self._concurrency)
        ]
        recorder = asyncio.create_task(self._record_loop(), name="smtp-recorder")
        housekeeper = asyncio.create_task(self._housekeeping_loop(), name="smtp-housekeeping")
        helpers = [*workers, recorder, housekeeper]
        try:
            await self._claim_loop()
        finally:
            self._running = False  # no more room for hand-overs
            if self._handoff is not None:
                self._handoff.detach(self)
            # The workers still run: what the settling handlers hand over may go out yet.
            await self._settle_handoffs()
            for task in helpers:
                task.cancel()
            # Bounded: a worker stuck in a library call must not keep the service from stopping.
            await asyncio.wait(helpers, timeout=5)
            await self._shutdown_cleanly()
            self._stopped = True

    # -- claiming -------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        poll = self._settings.email_poll_interval
        backoff = poll
        while True:
            _raise_if_cancelled()
            self._wakeup.clear()
            room = min(
                self._capacity - len(self._claimed) - self._reserved,
                self._settings.email_claim_batch_size,
            )
            claimed: list[ClaimedDelivery] = []
            if room > 0:
                try:
                    claimed = await self._claim(room)
                    backoff = poll
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("claiming e-mail deliveries failed, retrying: %r", exc)
                    await asyncio.sleep(backoff)
                    backoff = min(30.0, backoff * 2)
                    continue
                self._take(claimed)
            # A full claim (or no room) means more may be due: the workers wake this loop once
            # they have worked the backlog down to the refill mark. Otherwise sleep until new
            # deliveries commit or the poll is due.
            self._more_due = room <= 0 or len(claimed) == room
            if claimed and len(claimed) == room and len(self._claimed) <= self._refill_at:
                continue
            # No room (handlers' uncommitted transactions may hold it all) must wait, never
            # loop straight back: this loop would then never yield, and the transactions
            # that are to give the room back could never commit.
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the awaited thing completes, and the sender would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll):
                    await self._wakeup.wait()

    async def _claim(self, room: int) -> list[ClaimedDelivery]:
        """Due deliveries, and (every few seconds, if room is left) this sender's own claims
        that never reached it."""
        async with self._sessionmaker() as session, session.begin():
            claimed = await claim_due(session, limit=room, lease=self._lease, claimer=self._claimer)
            now = asyncio.get_running_loop().time()
            if len(claimed) < room and now >= self._next_orphan_check:
                self._next_orphan_check = now + ORPHAN_CHECK_SECONDS
                orphans = await reclaim_own(
                    session,
                    claimer=self._claimer,
                    held=self._held,
                    limit=room - len(claimed),
                    lease=self._lease,
                    older_than=timedelta(seconds=ORPHAN_AFTER_SECONDS),
                )
                if orphans:
                    log.warning(
                        "took back %d e-mail deliveries claimed but never handed over", len(orphans)
                    )
                claimed += orphans
        return claimed

    # -- sending --------------------------------------------------------------------------

    async def _work(self) -> None:
        connection = SmtpConnection(idle_close_seconds=self._settings.smtp_idle_close_seconds)
        try:
            while True:
                _raise_if_cancelled()
                try:
                    async with asyncio.timeout(self._settings.smtp_idle_close_seconds):
                        delivery = await self._queue.get()
                except TimeoutError:
                    await connection.close_if_idle()
                    continue
                await self._send_one(connection, delivery)
        finally:
            await connection.close()

    async def _send_one(self, connection: SmtpConnection, delivery: ClaimedDelivery) -> None:
        started = time.perf_counter()
        try:
            config = await self._smtp_config.current()
            attachments: list[Attachment] = []
            if delivery.attachment_id is not None:
                attachments.append(await self._attachment(delivery.attachment_id))
            message = compose_message(
                delivery_id=delivery.id,
                sender=config.sender,
                recipient=delivery.recipient,
                recipient_name=delivery.recipient_name,
                subject=delivery.subject,
                body_text=delivery.body_text,
                body_html=delivery.body_html,
                ticket_id=delivery.ticket_id,
                ticket_number=delivery.ticket_number,
                event_type=delivery.event_type,
                attachments=attachments,
                in_reply_to=delivery.in_reply_to,
            )
            await connection.send(config, message, recipient=delivery.recipient)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failures.append(
                FailedAttempt(
                    id=delivery.id,
                    attempts=delivery.attempts,
                    error=describe(exc),
                    permanent=is_permanent(exc),
                )
            )
            log.warning(
                "e-mail %s to %s failed (attempt %d): %s",
                delivery.id,
                delivery.recipient,
                delivery.attempts,
                describe(exc),
            )
        else:
            self._sent.append(delivery.id)
            EMAILS_SENT.inc()
            EMAIL_SEND_SECONDS.observe(time.perf_counter() - started)
            EMAIL_DELIVERY_SECONDS.observe(
                max(0.0, (datetime.now(UTC) - delivery.created_at).total_seconds())
            )
        self._claimed.pop(delivery.id, None)
        EMAILS_IN_FLIGHT.set(len(self._claimed))
        self._results_ready.set()
        if self._more_due and len(self._claimed) <= self._refill_at:
            self._wakeup.set()

    async def _attachment(self, attachment_id: uuid.UUID) -> Attachment:
        cached = self._attachments.get(attachment_id)
        if cached is None:
            async with self._sessionmaker() as session:
                cached = await load_attachment(session, attachment_id=attachment_id)
            # A few recent ones are enough: an event's mails go out together.
            while len(self._attachments) >= _ATTACHMENT_CACHE_SIZE:
                self._attachments.pop(next(iter(self._attachments)))
            self._attachments[attachment_id] = cached
        return cached

    # -- recording ------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            _raise_if_cancelled()
            await self._results_ready.wait()
            await asyncio.sleep(RECORD_GATHER_SECONDS)
            self._results_ready.clear()
            try:
                await self._record_pending_results()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The results stay in memory and are written on the next round; the rows
                # remain claimed meanwhile, so nobody sends them again.
                log.warning("recording e-mail results failed, retrying: %r", exc)
                await asyncio.sleep(1.0)
                self._results_ready.set()

    async def _record_pending_results(self) -> None:
        sent, self._sent = self._sent, []
        failures, self._failures = self._failures, []
        if not sent and not failures:
            return
        try:
            async with self._sessionmaker() as session, session.begin():
                retried, failed = await record_results(
                    session,
                    sent=sent,
                    failures=failures,
                    retry_delays=self._settings.email_retry_delays,
                )
        except BaseException:
            self._sent[:0] = sent
            self._failures[:0] = failures
            raise
        # Written: no longer 'sending', so no take-back can find them any more.
        self._held.difference_update(sent)
        self._held.difference_update(failure.id for failure in failures)
        if retried:
            EMAIL_FAILURES.labels("retry").inc(retried)
        if failed:
            EMAIL_FAILURES.labels("failed").inc(failed)
        if failures:
            # A retry may be due sooner than the next poll when delays are short.
            self._wakeup.set()

    # -- housekeeping ---------------------------------------------------------------------

    async def _housekeeping_loop(self) -> None:
        retention = timedelta(days=self._settings.email_retention_days)
        while True:
            _raise_if_cancelled()
            try:
                async with self._sessionmaker() as session, session.begin():
                    EMAIL_BACKLOG.set(await unfinished_count(session))
                    purged = await purge_finished(session, older_than=retention)
                if purged:
                    log.info("purged %d e-mail deliveries past retention", purged)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("e-mail housekeeping failed: %r", exc)
            await asyncio.sleep(self._settings.email_housekeeping_interval)

    async def _settle_handoffs(self) -> None:
        """Wait (bounded) until every handler that reserved room has committed (its
        deliveries are then here, or in the database as claimed for this sender) or rolled
        back: the hand-back below must come after those commits."""
        if self._reserved > 0:
            self._settled.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HANDOFF_SETTLE_SECONDS):
                    await self._settled.wait()
        if self._reserved > 0:
            log.warning("stopping with %d e-mail hand-overs still unsettled", self._reserved)

    async def _shutdown_cleanly(self) -> None:
        """Write what was sent, and hand back, due at once, every row claimed for this
        sender that is not sent: queued, cut off mid-send (the server never said yes), or
        never handed over."""
        self._claimed.clear()
        try:
            async with asyncio.timeout(5):
                try:
                    await self._record_pending_results()
                except Exception as exc:
                    log.warning("could not record e-mail results on stop: %r", exc)
                # Outcomes not written keep their rows claimed: those mails went out (or
                # failed) already, and must not go out again before the lease ends.
                unrecorded = [*self._sent, *(failure.id for failure in self._failures)]
                async with self._sessionmaker() as session, session.begin():
                    released = await release_own(session, claimer=self._claimer, keep=unrecorded)
            if released:
                log.info("handed back %d claimed e-mail deliveries on stop", released)
        except Exception as exc:
            # Anything left claimed falls due again when its lease runs out.
            log.warning("could not hand back claimed e-mail deliveries on stop: %r", exc)
