"""The e-mail delivery queue in PostgreSQL: enqueue, claim, record results, retry.

Deliveries are written by the event handlers inside the inbox transaction and sent later by
the sender worker; SMTP never runs inside a handler, so a slow or absent mail server cannot
hold up the event flow.

A sender in the same process with room to spare takes new deliveries straight from the
handler: they are inserted already claimed by it (``sending``, first attempt, the claim's
lease) and handed over, in memory, once the transaction commits. That saves a claim (an
update of every row) and its wait per mail. The guarantees are those of a claim: other
replicas leave the rows alone until the lease ends, and should this process die before the
outcome is written, the rows fall due again when it does. Rows the sender has no room for
are inserted pending and claimed as usual (``claim_due``), by any replica.

Every claim records its sender (``claimed_by``, an id per sender instance). Should the
hand-over never happen although the rows committed (the commit's answer was lost: the
handler saw an error, the event's retry finds it processed), the sender takes such rows of
its own back after a few seconds (``reclaim_own``) rather than at the lease's end; a
stopping sender hands back all of its own that it is not sending (``release_own``).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from helpdesk_common.aftercommit import HELD_BY, Wakeup, after_commit
from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.db import driver_connection
from helpdesk_common.errors import Conflict, NotFound
from helpdesk_common.pagination import after, cursor_int, decode_cursor, encode_cursor, page_of
from notifications import arrays
from notifications.email.models import EmailAttachment, EmailDelivery
from notifications.email.rendering import Rendered

# -- waking the sender, handing deliveries over ------------------------------------------

# Set after a commit that enqueued deliveries: this process's senders claim them at once.
SENDER_WAKEUP = Wakeup("email")


@dataclass(frozen=True)
class ClaimedDelivery:
    id: uuid.UUID
    event_id: uuid.UUID | None
    event_type: str
    ticket_id: uuid.UUID | None
    ticket_number: str | None
    recipient: str
    recipient_name: str | None
    subject: str
    body_text: str
    body_html: str
    attempts: int
    created_at: datetime
    attachment_id: uuid.UUID | None = None
    in_reply_to: str | None = None


class Outlet(Protocol):
    """A sender in this process that takes deliveries straight from the handlers."""

    @property
    def lease(self) -> timedelta:
        """How long a claim made for this sender holds before the delivery is due again."""

    @property
    def claimer(self) -> uuid.UUID:
        """This sender's id, written into the rows claimed for it (``claimed_by``)."""

    def reserve(self, count: int) -> int:
        """Room for up to ``count`` more deliveries: how many it takes (0 to count)."""

    def release(self, count: int) -> None:
        """Give back reserved room that was not used (rolled back, or a duplicate)."""

    def accept(self, deliveries: list[ClaimedDelivery]) -> None:
        """Send these (committed as claimed by this process, within reserved room)."""


class Handoff:
    """Links an app's event handlers to its running sender (one per app, not per process:
    tests run several apps, on other schemas, in one process)."""

    def __init__(self) -> None:
        self.outlet: Outlet | None = None

    def attach(self, outlet: Outlet) -> None:
        if self.outlet is None:
            self.outlet = outlet

    def detach(self, outlet: Outlet) -> None:
        if self.outlet is outlet:
            self.outlet = None


def mark_enqueued(session: AsyncSession) -> None:
    """Wake this process's senders once the caller's transaction commits."""
    SENDER_WAKEUP.after_commit(session)


def _hand_over(
    session: AsyncSession, outlet: Outlet, *, reserved: int, deliveries: list[ClaimedDelivery]
) -> None:
    """Give ``deliveries`` to ``outlet`` once the transaction commits (only then do the rows
    exist for everyone); give the reserved room back if it rolls back, or if it ends without
    either being known."""
    settled = False

    def commit() -> None:
        nonlocal settled
        if not settled:
            settled = True
            outlet.release(reserved - len(deliveries))
            outlet.accept(deliveries)

    def rolled_back() -> None:
        nonlocal settled
        if not settled:
            settled = True
            outlet.release(reserved)

    def ended(_: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            rolled_back()

    after_commit(session, commit, on_rollback=rolled_back)
    if HELD_BY not in session.info:  # a joined session's end is not its transaction's
        # A transaction can end with neither event: a COMMIT whose answer was lost (the rows
        # may be in: the sender takes them back, see reclaim_own), or a ROLLBACK that fails
        # on a dead connection. Reserved room that never came back would shrink the sender's
        # room for good (and hold up its stop).
        sa_event.listen(session.sync_session, "after_transaction_end", ended)


# -- enqueueing -------------------------------------------------------------------------


_DELIVERY_COLUMNS = (
    ("event_id", "uuid"),
    ("event_type", "text"),
    ("ticket_id", "uuid"),
    ("ticket_number", "text"),
    ("recipient", "text"),
    ("recipient_name", "text"),
    ("user_id", "uuid"),
    ("language", "text"),
    ("subject", "text"),
    ("body_text", "text"),
    ("body_html", "text"),
    ("attachment_id", "uuid"),
    ("in_reply_to", "text"),
)
_NAMES = arrays.names(_DELIVERY_COLUMNS)
# Every row in one statement, one array per column (the text never changes, so asyncpg
# prepares it once per connection). The first $2 rows are claimed by this process's sender
# (lease $3, claimer $4). A row whose (event, address) pair is already queued is skipped: a
# redelivered event never mails anyone twice; RETURNING tells which rows are new.
_ENQUEUE = f"""
INSERT INTO email_deliveries (id, {_NAMES}, status, attempts, next_attempt_at, claimed_by)
SELECT id, {_NAMES},
       CASE WHEN n <= $2 THEN 'sending' ELSE 'pending' END,
       CASE WHEN n <= $2 THEN 1 ELSE 0 END,
       CASE WHEN n <= $2 THEN now() + $3::interval ELSE now() END,
       CASE WHEN n <= $2 THEN $4::uuid END
  FROM {arrays.unnest(_DELIVERY_COLUMNS, first=5)} WITH ORDINALITY AS r (id, {_NAMES}, n)
ON CONFLICT ON CONSTRAINT uq_email_deliveries_event_recipient DO NOTHING
RETURNING id
"""


def delivery_row(
    envelope: EventEnvelope,
    *,
    recipient: str,
    recipient_name: str | None,
    user_id: uuid.UUID | None,
    rendered: Rendered,
    **extra: Any,
) -> dict[str, Any]:
    """The row of one mail for :func:`enqueue_deliveries`: ``envelope``'s event rendered for
    one recipient, with ``extra`` columns (the ticket, an attachment)."""
    return {
        "event_id": envelope.event_id,
        "event_type": envelope.event_type,
        "recipient": recipient,
        "recipient_name": recipient_name,
        "user_id": user_id,
        "language": rendered.language,
        "subject": rendered.subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
        **extra,
    }


async def enqueue_deliveries(
    session: AsyncSession, *, rows: Sequence[dict[str, Any]], handoff: Handoff | None = None
) -> None:
    """Insert deliveries; one (event, address) pair is only ever queued once.

    With a ``handoff`` whose sender is running, as many as that sender has room for are
    claimed for it and handed over when the transaction commits; the others wait, pending,
    for a claim.
    """
    if not rows:
        return
    outlet = handoff.outlet if handoff is not None else None
    claimed = outlet.reserve(len(rows)) if outlet is not None else 0
    ids = [uuid.uuid4() for _ in rows]
    try:
        connection = await driver_connection(session)
        inserted = {
            record[0]
            for record in await connection.fetch(
                _ENQUEUE,
                ids,
                claimed,
                outlet.lease if outlet is not None else timedelta(0),
                outlet.claimer if outlet is not None else None,
                *arrays.arrays(rows, _DELIVERY_COLUMNS),
            )
        }
    except BaseException:
        if outlet is not None:
            outlet.release(claimed)
        raise
    if outlet is not None and claimed:
        now = datetime.now(UTC)
        handed = [
            ClaimedDelivery(
                id=delivery_id,
                event_id=row.get("event_id"),
                event_type=row["event_type"],
                ticket_id=row.get("ticket_id"),
                ticket_number=row.get("ticket_number"),
                recipient=row["recipient"],
                recipient_name=row.get("recipient_name"),
                subject=row["subject"],
                body_text=row["body_text"],
                body_html=row["body_html"],
                attempts=1,
                created_at=now,
                attachment_id=row.get("attachment_id"),
                in_reply_to=row.get("in_reply_to"),
            )
            for delivery_id, row in zip(ids[:claimed], rows[:claimed], strict=True)
            if delivery_id in inserted
        ]
        _hand_over(session, outlet, reserved=claimed, deliveries=handed)
    if any(delivery_id in inserted for delivery_id in ids[claimed:]):
        mark_enqueued(session)


# -- attachments ------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    filename: str
    media_type: str
    content: bytes


async def store_attachment(
    session: AsyncSession, *, attachment_id: uuid.UUID, attachment: Attachment
) -> None:
    """Store a file once for all the deliveries that carry it (``attachment_id``: the
    event's id, so storing it again for the same event changes nothing)."""
    await session.execute(
        pg_insert(EmailAttachment)
        .values(
            id=attachment_id,
            filename=attachment.filename,
            media_type=attachment.media_type,
            content=attachment.content,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )


async def load_attachment(session: AsyncSession, *, attachment_id: uuid.UUID) -> Attachment:
    row = await session.get(EmailAttachment, attachment_id)
    if row is None:
        raise NotFound("not_found", f"The attachment {attachment_id} is gone")
    return Attachment(filename=row.filename, media_type=row.media_type, content=row.content)


# -- claiming and recording results ------------------------------------------------------

_CLAIMED_COLUMNS = (
    "id, event_id, event_type, ticket_id, ticket_number, recipient, recipient_name, "
    "subject, body_text, body_html, attempts, created_at, attachment_id, in_reply_to"
)
# SKIP LOCKED lets several replicas claim side by side without waiting on each other. The
# claim pushes next_attempt_at to the end of the lease: should this sender die mid-send,
# the delivery falls due again by itself.
_CLAIM = f"""
UPDATE email_deliveries
   SET status = 'sending', attempts = attempts + 1, next_attempt_at = now() + $2::interval,
       claimed_by = $3
 WHERE id IN (SELECT id FROM email_deliveries
               WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
               ORDER BY next_attempt_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED)
RETURNING {_CLAIMED_COLUMNS}
"""


async def claim_due(
    session: AsyncSession, *, limit: int, lease: timedelta, claimer: uuid.UUID
) -> list[ClaimedDelivery]:
    """Take up to ``limit`` due deliveries for the sender ``claimer``, oldest first."""
    connection = await driver_connection(session)
    records = await connection.fetch(_CLAIM, limit, lease, claimer)
    claimed = [ClaimedDelivery(*record) for record in records]
    claimed.sort(key=lambda d: d.created_at)
    return claimed


# Rows claimed by this sender ($1) that it does not hold ($2): their claim is older than $5
# (a claim ends at claim time + lease), so no hand-over is still on its way. The lease
# starts again; attempts stay (the claim that lost its answer counted one already).
_RECLAIM_OWN = f"""
UPDATE email_deliveries
   SET next_attempt_at = now() + $3::interval
 WHERE id IN (SELECT id FROM email_deliveries
               WHERE status = 'sending' AND claimed_by = $1
                 AND NOT (id = ANY($2::uuid[]))
                 AND next_attempt_at <= now() + $3::interval - $5::interval
               LIMIT $4
               FOR UPDATE SKIP LOCKED)
RETURNING {_CLAIMED_COLUMNS}
"""


async def reclaim_own(
    session: AsyncSession,
    *,
    claimer: uuid.UUID,
    held: Collection[uuid.UUID],
    limit: int,
    lease: timedelta,
    older_than: timedelta,
) -> list[ClaimedDelivery]:
    """Take back deliveries claimed for ``claimer`` but never handed to it (not in ``held``):
    a claim or a handler's transaction committed although its caller saw an error."""
    connection = await driver_connection(session)
    records = await connection.fetch(_RECLAIM_OWN, claimer, list(held), lease, limit, older_than)
    return [ClaimedDelivery(*record) for record in records]


@dataclass(frozen=True)
class FailedAttempt:
    id: uuid.UUID
    attempts: int
    error: str
    permanent: bool


def retry_delay(attempts: int, delays: Sequence[float]) -> float | None:
    """Seconds until the next attempt after ``attempts`` failures; None once exhausted."""
    if attempts > len(delays):
        return None
    base = delays[attempts - 1]
    # A little jitter spreads the retries of a batch that failed together (server down), so
    # they do not all hit the server again in the same instant when it comes back.
    return base * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not security


# Only rows still claimed ('sending') are updated: an administrator's action in between wins.
_MARK_SENT = """
UPDATE email_deliveries SET status = 'sent', sent_at = now(), last_error = NULL
 WHERE id = ANY($1::uuid[]) AND status = 'sending'
"""
# A NULL delay means no more attempts: failed for good.
_MARK_FAILED = """
UPDATE email_deliveries AS d
   SET last_error = f.error,
       status = CASE WHEN f.delay IS NULL THEN 'failed' ELSE 'pending' END,
       failed_at = CASE WHEN f.delay IS NULL THEN now() ELSE d.failed_at END,
       next_attempt_at = CASE WHEN f.delay IS NULL THEN d.next_attempt_at
                              ELSE now() + make_interval(secs => f.delay) END
  FROM unnest($1::uuid[], $2::text[], $3::float8[]) AS f (id, error, delay)
 WHERE d.id = f.id AND d.status = 'sending'
"""


async def record_results(
    session: AsyncSession,
    *,
    sent: Sequence[uuid.UUID],
    failures: Sequence[FailedAttempt],
    retry_delays: Sequence[float],
) -> tuple[int, int]:
    """Write a batch of outcomes: one statement for the sent, one for the failed.

    Returns how many of ``failures`` were (retried, failed for good).
    """
    connection = await driver_connection(session)
    if sent:
        await connection.execute(_MARK_SENT, list(sent))
    if not failures:
        return 0, 0
    delays = [
        None if failure.permanent else retry_delay(failure.attempts, retry_delays)
        for failure in failures
    ]
    await connection.execute(
        _MARK_FAILED,
        [failure.id for failure in failures],
        [failure.error[:2000] for failure in failures],
        delays,
    )
    retried = sum(delay is not None for delay in delays)
    return retried, len(delays) - retried


# Only this sender's own claims: what another live sender holds is never touched.
_RELEASE_OWN = """
UPDATE email_deliveries
   SET status = 'pending', attempts = greatest(attempts - 1, 0), next_attempt_at = now(),
       claimed_by = NULL
 WHERE status = 'sending' AND claimed_by = $1 AND NOT (id = ANY($2::uuid[]))
"""


async def release_own(
    session: AsyncSession, *, claimer: uuid.UUID, keep: Collection[uuid.UUID] = ()
) -> int:
    """Hand back, due now, every delivery claimed for ``claimer`` but those in ``keep`` (the
    sender is stopping; the attempt it abandons does not count). Returns how many."""
    connection = await driver_connection(session)
    status = await connection.execute(_RELEASE_OWN, claimer, list(keep))
    return int(status.rsplit(" ", 1)[-1])


# -- housekeeping -----------------------------------------------------------------------


async def unfinished_count(session: AsyncSession) -> int:
    count = await session.scalar(
        sa.select(sa.func.count())
        .select_from(EmailDelivery)
        .where(EmailDelivery.status.in_(("pending", "sending")))
    )
    return int(count or 0)


async def purge_finished(session: AsyncSession, *, older_than: timedelta, limit: int = 5000) -> int:
    """Delete sent and failed deliveries past retention (their bodies hold personal data).

    A bounded batch per call keeps each delete short; the next round takes the rest.
    """
    old = (
        sa.select(EmailDelivery.id)
        .where(
            EmailDelivery.status.in_(("sent", "failed")),
            EmailDelivery.created_at < sa.func.now() - older_than,
        )
        .limit(limit)
        .scalar_subquery()
    )
    result = await session.execute(
        sa.delete(EmailDelivery).where(EmailDelivery.id.in_(old)).returning(EmailDelivery.id)
    )
    purged = len(result.all())
    # An attachment goes once no delivery carries it any more.
    await session.execute(
        sa.delete(EmailAttachment).where(
            EmailAttachment.created_at < sa.func.now() - older_than,
            ~sa.exists().where(EmailDelivery.attachment_id == EmailAttachment.id),
        )
    )
    return purged


# -- administration ---------------------------------------------------------------------


# The name of the listing in its cursors (helpdesk_common.pagination).
LISTING = "deliveries"


async def list_deliveries(
    session: AsyncSession,
    *,
    status: str | None,
    ticket_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[EmailDelivery], str | None]:
    """A page of deliveries, newest first, and the cursor of the next page."""
    query = sa.select(EmailDelivery).order_by(EmailDelivery.seq.desc()).limit(limit + 1)
    if status is not None:
        query = query.where(EmailDelivery.status == status)
    if ticket_id is not None:
        query = query.where(EmailDelivery.ticket_id == ticket_id)
    if cursor is not None:
        values = decode_cursor(cursor, listing=LISTING, parse=[cursor_int])
        query = query.where(after([EmailDelivery.seq.expression], values, descending=True))
    rows = list(await session.scalars(query))
    return page_of(rows, limit=limit, cursor_after=lambda d: encode_cursor(LISTING, d.seq))


async def get_delivery(
    session: AsyncSession, *, delivery_id: uuid.UUID, for_update: bool = False
) -> EmailDelivery:
    delivery = await session.get(EmailDelivery, delivery_id, with_for_update=for_update)
    if delivery is None:
        raise NotFound("not_found", "No such e-mail delivery")
    return delivery


async def delivery_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        sa.select(EmailDelivery.status, sa.func.count()).group_by(EmailDelivery.status)
    )
    counts = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
    counts.update({status: int(count) for status, count in rows})
    return counts


async def retry_delivery(session: AsyncSession, *, delivery_id: uuid.UUID) -> EmailDelivery:
    """Put a failed delivery back in the queue with a fresh set of attempts."""
    delivery = await get_delivery(session, delivery_id=delivery_id, for_update=True)
    if delivery.status != "failed":
        raise Conflict(
            "not_failed",
            f"Only a failed delivery can be retried; this one is {delivery.status}",
        )
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.failed_at = None
    delivery.next_attempt_at = sa.func.now()
    await session.flush()
    await session.refresh(delivery)
    mark_enqueued(session)
    return delivery


async def retry_all_failed(session: AsyncSession) -> int:
    result = await session.execute(
        sa.update(EmailDelivery)
        .where(EmailDelivery.status == "failed")
        .values(status="pending", attempts=0, failed_at=None, next_attempt_at=sa.func.now())
        .returning(EmailDelivery.id)
    )
    count = len(result.all())
    if count:
        mark_enqueued(session)
    return count
