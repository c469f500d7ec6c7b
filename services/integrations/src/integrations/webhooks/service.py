"""Outbound webhooks: the subscriptions, their deliveries and the rules of both.

Keyword-only arguments and a session; nothing here commits (the route, the consumer or the
sender owns the transaction).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from helpdesk_common.aftercommit import Wakeup
from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.integrations import WebhookDisabled
from helpdesk_common.crypto import SecretCipher
from helpdesk_common.errors import Conflict, NotFound, StaleVersion
from helpdesk_common.outbox import add_event
from helpdesk_common.pagination import (
    after,
    cursor_int,
    cursor_text,
    cursor_uuid,
    decode_cursor,
    encode_cursor,
    page_of,
)
from integrations.webhooks.guard import UrlRefused, check_url
from integrations.webhooks.models import OUTSTANDING, Webhook, WebhookDelivery
from integrations.webhooks.signing import new_secret

PRODUCER = "integrations"
# A webhook's last_success_at is kept this exact (not rewritten by every success).
LAST_SUCCESS_PRECISION = timedelta(seconds=5)
PING = "webhook.ping"

# Set when deliveries were committed: this process's sender starts at once (the others
# find them at their next poll).
SENDER_WAKEUP = Wakeup("webhooks")


def utcnow() -> datetime:
    return datetime.now(UTC)


def state_of(webhook: Webhook) -> str:
    if not webhook.is_active:
        return "disabled"
    return "failing" if webhook.failing_since is not None else "active"


# -- webhooks ----------------------------------------------------------------------------


async def checked_url(url: str, *, allowed_networks: Sequence[str]) -> str:
    """``url`` if its host resolves to addresses a webhook may call; else 422 on ``url``."""
    try:
        target = await check_url(url, allowed_networks=allowed_networks)
    except UrlRefused as refused:
        raise refused.as_input_error("url") from None
    return target.url


async def get_webhook(
    session: AsyncSession, *, webhook_id: uuid.UUID, for_update: bool = False
) -> Webhook:
    query = sa.select(Webhook).where(Webhook.id == webhook_id)
    if for_update:
        query = query.with_for_update()
    webhook = await session.scalar(query)
    if webhook is None:
        raise NotFound("webhook_not_found", "No such webhook")
    return webhook


async def list_webhooks(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[list[Webhook], str | None]:
    """Ordered by name, then id."""
    order = (Webhook.name, Webhook.id)
    query = sa.select(Webhook).order_by(*order)
    if cursor:
        position = decode_cursor(cursor, listing="webhooks", parse=(cursor_text, cursor_uuid))
        query = query.where(after(order, position, descending=False))
    rows = (await session.scalars(query.limit(limit + 1))).all()
    return page_of(
        rows, limit=limit, cursor_after=lambda w: encode_cursor("webhooks", w.name, w.id)
    )


async def create_webhook(
    session: AsyncSession,
    *,
    cipher: SecretCipher,
    allowed_networks: Sequence[str],
    name: str,
    url: str,
    secret: str | None,
    event_types: Sequence[str],
    is_active: bool,
) -> tuple[Webhook, str | None]:
    """The new webhook and the secret generated for it (None when ``secret`` was given)."""
    url = await checked_url(url, allowed_networks=allowed_networks)
    generated = None if secret else new_secret()
    now = utcnow()
    webhook = Webhook(
        id=uuid.uuid4(),
        name=name,
        url=url,
        secret_encrypted=cipher.encrypt(secret or generated or ""),
        event_types=sorted(set(event_types)),
        is_active=is_active,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(webhook)
    await session.flush()
    return webhook, generated


async def update_webhook(
    session: AsyncSession,
    *,
    cipher: SecretCipher,
    allowed_networks: Sequence[str],
    webhook_id: uuid.UUID,
    changes: dict[str, Any],
) -> Webhook:
    webhook = await get_webhook(session, webhook_id=webhook_id, for_update=True)
    version = changes.pop("version", None)
    if version is not None and version != webhook.version:
        raise StaleVersion(
            "version_mismatch",
            "The webhook was changed meanwhile: fetch it and apply your change again",
            field="version",
            extra={"current_version": webhook.version},
        )
    if "url" in changes:
        changes["url"] = await checked_url(changes["url"], allowed_networks=allowed_networks)
    if "event_types" in changes:
        changes["event_types"] = sorted(set(changes["event_types"]))
    changed = False
    if "secret" in changes:
        webhook.secret_encrypted = cipher.encrypt(changes.pop("secret"))
        changed = True
    for key, value in changes.items():
        if getattr(webhook, key) != value:
            setattr(webhook, key, value)
            changed = True
    if changes.get("is_active") is True:
        # Enabled (again): its failures start afresh.
        webhook.disabled_at = None
        webhook.disabled_reason = None
        webhook.failing_since = None
    elif changes.get("is_active") is False and webhook.disabled_at is None:
        webhook.disabled_at = utcnow()
        webhook.disabled_reason = "disabled by an administrator"
    if changed:
        webhook.version += 1
        webhook.updated_at = utcnow()
        await session.flush()
        SENDER_WAKEUP.after_commit(session)  # re-enabled: its waiting deliveries go now
    return webhook


async def delete_webhook(session: AsyncSession, *, webhook_id: uuid.UUID) -> None:
    webhook = await get_webhook(session, webhook_id=webhook_id, for_update=True)
    await session.delete(webhook)  # its deliveries go with it (ON DELETE CASCADE)
    await session.flush()


# -- deliveries --------------------------------------------------------------------------


def request_body(
    *,
    delivery_id: uuid.UUID,
    event_id: uuid.UUID,
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
) -> str:
    """The JSON a receiver gets (compact, ASCII: other characters as \\u escapes, so any
    text of an event can be stored and sent; the signature covers these exact bytes)."""
    return json.dumps(
        {
            "delivery_id": str(delivery_id),
            "event_id": str(event_id),
            "event_type": event_type,
            "occurred_at": occurred_at.isoformat(),
            "data": data,
        },
        separators=(",", ":"),
    )


def ticket_of(payload: dict[str, Any]) -> uuid.UUID | None:
    """The ticket an event concerns (ticket and attachment events carry ``ticket``)."""
    ticket = payload.get("ticket")
    if isinstance(ticket, dict) and ticket.get("ticket_id"):
        try:
            return uuid.UUID(str(ticket["ticket_id"]))
        except ValueError:
            return None
    return None


def _new_delivery(
    *,
    webhook_id: uuid.UUID,
    event_id: uuid.UUID,
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    ticket_id: uuid.UUID | None,
    now: datetime,
    due: datetime | None = None,
    redelivery_of: uuid.UUID | None = None,
) -> dict[str, Any]:
    delivery_id = uuid.uuid4()
    return {
        "id": delivery_id,
        "webhook_id": webhook_id,
        "event_id": event_id,
        "event_type": event_type,
        "ticket_id": ticket_id,
        "occurred_at": occurred_at,
        "redelivery_of": redelivery_of,
        "request_body": request_body(
            delivery_id=delivery_id,
            event_id=event_id,
            event_type=event_type,
            occurred_at=occurred_at,
            data=data,
        ),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": due or now,
        "created_at": now,
    }


# The enabled webhooks wanting any of a batch's event types (their list overlaps it).
_SUBSCRIBED = sa.text(
    "SELECT id, event_types FROM webhooks WHERE is_active AND event_types && :event_types"
).bindparams(sa.bindparam("event_types", type_=pg.ARRAY(sa.Text())))

# A batch's deliveries in one statement whose text does not depend on the batch's size
# (arrays through ``unnest``, rows inserted, and numbered by ``seq``, in array order: the
# events' order). A repeated event adds none (one delivery per webhook and event).
_INSERT_DELIVERIES = sa.text(
    "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, ticket_id,"
    " occurred_at, request_body, status, attempts, next_attempt_at, created_at)"
    " SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.ticket_id, d.occurred_at,"
    " d.request_body, 'pending', 0, :due, :now"
    " FROM unnest(:ids, :webhook_ids, :event_ids, :event_types, :ticket_ids, :occurred_ats,"
    " :request_bodies) AS d (id, webhook_id, event_id, event_type, ticket_id, occurred_at,"
    " request_body)"
    " ON CONFLICT (webhook_id, event_id) WHERE redelivery_of IS NULL DO NOTHING"
    " RETURNING id"
).bindparams(
    *(
        sa.bindparam(name, type_=pg.ARRAY(pg.UUID(as_uuid=True)))
        for name in ("ids", "webhook_ids", "event_ids", "ticket_ids")
    ),
    *(sa.bindparam(name, type_=pg.ARRAY(sa.Text())) for name in ("event_types", "request_bodies")),
    sa.bindparam("occurred_ats", type_=pg.ARRAY(sa.DateTime(timezone=True))),
    sa.bindparam("due", type_=sa.DateTime(timezone=True)),
    sa.bindparam("now", type_=sa.DateTime(timezone=True)),
)


async def record_events(
    session: AsyncSession, *, envelopes: Sequence[EventEnvelope], settle: timedelta = timedelta(0)
) -> int:
    """One delivery per active webhook subscribed to each event (a repeat adds none), due
    ``settle`` from now (an older event of the ticket handled at the same moment, by another
    handler or replica, is then recorded before this one may go); how many were added.

    One query for the webhooks of all the events and one insert for all their deliveries:
    an event no webhook wants costs no more than its share of that query."""
    if not envelopes:
        return 0
    event_types = sorted({envelope.event_type for envelope in envelopes})
    subscribed = (await session.execute(_SUBSCRIBED, {"event_types": event_types})).all()
    if not subscribed:
        return 0
    now = utcnow()
    rows = [
        _new_delivery(
            webhook_id=webhook_id,
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            occurred_at=envelope.occurred_at,
            data=envelope.payload,
            ticket_id=ticket_of(envelope.payload),
            now=now,
        )
        for envelope in envelopes
        for webhook_id, wanted in subscribed
        if envelope.event_type in wanted
    ]
    if not rows:
        return 0
    added = await session.execute(
        _INSERT_DELIVERIES,
        {
            "ids": [row["id"] for row in rows],
            "webhook_ids": [row["webhook_id"] for row in rows],
            "event_ids": [row["event_id"] for row in rows],
            "event_types": [row["event_type"] for row in rows],
            "ticket_ids": [row["ticket_id"] for row in rows],
            "occurred_ats": [row["occurred_at"] for row in rows],
            "request_bodies": [row["request_body"] for row in rows],
            "due": now + settle,
            "now": now,
        },
    )
    count = len(added.all())
    if count:
        SENDER_WAKEUP.after_commit(session)
    return count


async def record_event(
    session: AsyncSession, *, envelope: EventEnvelope, settle: timedelta = timedelta(0)
) -> int:
    """:func:`record_events` for one event."""
    return await record_events(session, envelopes=[envelope], settle=settle)


async def ping(session: AsyncSession, *, webhook_id: uuid.UUID) -> WebhookDelivery:
    """A ``webhook.ping`` delivery (sent even while the webhook is disabled, to test it)."""
    webhook = await get_webhook(session, webhook_id=webhook_id)
    now = utcnow()
    event_id = uuid.uuid4()
    values = _new_delivery(
        webhook_id=webhook.id,
        event_id=event_id,
        event_type=PING,
        occurred_at=now,
        data={"webhook_id": str(webhook.id), "name": webhook.name, "message": "ping"},
        ticket_id=None,
        now=now,
    )
    delivery = WebhookDelivery(**values)
    session.add(delivery)
    await session.flush()
    SENDER_WAKEUP.after_commit(session)
    return delivery


async def get_delivery(
    session: AsyncSession, *, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    delivery = await session.scalar(
        sa.select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == webhook_id
        )
    )
    if delivery is None:
        raise NotFound("delivery_not_found", "No such delivery of this webhook")
    return delivery


async def list_deliveries(
    session: AsyncSession,
    *,
    webhook_id: uuid.UUID,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WebhookDelivery], str | None]:
    """The delivery log, newest first."""
    await get_webhook(session, webhook_id=webhook_id)
    query = (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.seq.desc())
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    if cursor:
        (position,) = decode_cursor(cursor, listing="webhook_deliveries", parse=(cursor_int,))
        query = query.where(WebhookDelivery.seq < position)
    rows = (await session.scalars(query.limit(limit + 1))).all()
    return page_of(
        rows, limit=limit, cursor_after=lambda d: encode_cursor("webhook_deliveries", d.seq)
    )


async def redeliver(
    session: AsyncSession, *, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """A new delivery of the same event (a new ``delivery_id``, the same ``event_id``), after
    the ticket's other outstanding deliveries; the first must be done (succeeded or failed)."""
    first = await get_delivery(session, webhook_id=webhook_id, delivery_id=delivery_id)
    if first.status in OUTSTANDING:
        raise Conflict(
            "delivery_outstanding", "The delivery is still being attempted; wait until it ends"
        )
    data = json.loads(first.request_body)["data"]
    values = _new_delivery(
        webhook_id=first.webhook_id,
        event_id=first.event_id,
        event_type=first.event_type,
        occurred_at=first.occurred_at,
        data=data,
        ticket_id=first.ticket_id,
        now=utcnow(),
        redelivery_of=first.redelivery_of or first.id,
    )
    # Behind what is queued for its ticket now, whatever the event's age.
    values["occurred_at"] = max(first.occurred_at, values["created_at"])
    delivery = WebhookDelivery(**values)
    session.add(delivery)
    await session.flush()
    SENDER_WAKEUP.after_commit(session)
    return delivery


async def purge_log(session: AsyncSession, *, older_than: timedelta, batch: int = 5000) -> int:
    """Delete done deliveries (succeeded or failed) created before ``older_than`` ago, at
    most ``batch`` at a time; how many went."""
    doomed = (
        sa.select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status.in_(("succeeded", "failed")),
            WebhookDelivery.created_at < utcnow() - older_than,
        )
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        sa.delete(WebhookDelivery)
        .where(WebhookDelivery.id.in_(doomed.scalar_subquery()))
        .returning(WebhookDelivery.id)
    )
    return len(result.all())


async def backlog(session: AsyncSession) -> int:
    count = await session.scalar(
        sa.select(sa.func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.status.in_(OUTSTANDING))
    )
    return int(count or 0)


# -- the sender's bookkeeping -----------------------------------------------------------


async def claim_due(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta
) -> list[tuple[WebhookDelivery, Webhook]]:
    """Due deliveries of enabled webhooks (pings also of disabled ones), each the oldest
    outstanding of its (webhook, ticket), leased to the caller: another sender skips them
    until the lease ends (a crashed sender's deliveries are then taken up again)."""
    older = aliased(WebhookDelivery)
    waiting_behind = (
        sa.select(older.id)
        .where(
            older.webhook_id == WebhookDelivery.webhook_id,
            older.ticket_id == WebhookDelivery.ticket_id,
            older.status.in_(OUTSTANDING),
            sa.tuple_(older.occurred_at, older.seq)
            < sa.tuple_(WebhookDelivery.occurred_at, WebhookDelivery.seq),
        )
        .exists()
    )
    query = (
        sa.select(WebhookDelivery)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            WebhookDelivery.status.in_(OUTSTANDING),
            WebhookDelivery.next_attempt_at <= now,
            sa.or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            sa.or_(Webhook.is_active, WebhookDelivery.event_type == PING),
            ~waiting_behind,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.seq)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    deliveries = (await session.scalars(query)).all()
    if not deliveries:
        return []
    for delivery in deliveries:
        delivery.lease_token = uuid.uuid4()
        delivery.lease_until = now + lease
    webhooks = {
        w.id: w
        for w in (
            await session.scalars(
                sa.select(Webhook).where(Webhook.id.in_({d.webhook_id for d in deliveries}))
            )
        ).all()
    }
    await session.flush()
    return [(d, webhooks[d.webhook_id]) for d in deliveries]


def next_delay(attempts: int, *, initial: float, cap: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling, capped."""
    return float(min(cap, initial * 2 ** min(attempts - 1, 60)))


async def finish_attempt(
    session: AsyncSession,
    *,
    delivery_id: uuid.UUID,
    lease_token: uuid.UUID,
    started_at: datetime,
    ok: bool,
    status_code: int | None,
    error: str | None,
    response_excerpt: str | None,
    duration_ms: int,
    retry_initial: float,
    retry_cap: float,
    retry_window: float,
    disable_after: float,
) -> tuple[str, bool] | None:
    """Record an attempt: the delivery's new status and whether its webhook was disabled
    now; None when the lease was lost (another sender took the delivery over)."""
    # The webhook's row first, then the delivery's: the order of a webhook's deletion (its
    # row, then its deliveries by the cascade), so the two never wait on each other. A
    # success while the webhook is healthy and its last success is recent leaves the
    # webhook's row alone: under load every attempt's commit would queue on that one row.
    row = (
        await session.execute(
            sa.select(Webhook.id, Webhook.failing_since, Webhook.last_success_at)
            .join(WebhookDelivery, WebhookDelivery.webhook_id == Webhook.id)
            .where(WebhookDelivery.id == delivery_id)
        )
    ).first()
    if row is None:
        return None  # deleted meanwhile, with its webhook
    now = utcnow()
    touch_webhook = not (
        ok
        and row.failing_since is None
        and row.last_success_at is not None
        and now - row.last_success_at < LAST_SUCCESS_PRECISION
    )
    webhook = None
    if touch_webhook:
        webhook = await session.scalar(
            sa.select(Webhook).where(Webhook.id == row.id).with_for_update()
        )
    delivery = await session.scalar(
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.lease_token == lease_token)
        .with_for_update()
    )
    if delivery is None or (touch_webhook and webhook is None):
        return None
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or started_at
    delivery.last_attempt_at = started_at
    delivery.last_status_code = status_code
    delivery.last_error = error
    delivery.response_excerpt = response_excerpt
    delivery.duration_ms = duration_ms
    delivery.lease_token = None
    delivery.lease_until = None
    disabled = False
    if ok:
        delivery.status = "succeeded"
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        if webhook is not None:
            webhook.last_success_at = now
            webhook.failing_since = None
            webhook.last_error = None
    else:
        assert webhook is not None
        window_end = delivery.first_attempt_at + timedelta(seconds=retry_window)
        if now >= window_end:
            delivery.status = "failed"
            delivery.next_attempt_at = None
        else:
            delay = next_delay(delivery.attempts, initial=retry_initial, cap=retry_cap)
            delivery.status = "retrying"
            delivery.next_attempt_at = min(now + timedelta(seconds=delay), window_end)
        webhook.last_error = error
        if delivery.event_type != PING:
            webhook.failing_since = webhook.failing_since or started_at
            disabled = await _disable_if_failing_too_long(
                session, webhook=webhook, now=now, disable_after=disable_after
            )
    SENDER_WAKEUP.after_commit(session)  # the ticket's next delivery may go now
    return delivery.status, disabled


async def _disable_if_failing_too_long(
    session: AsyncSession, *, webhook: Webhook, now: datetime, disable_after: float
) -> bool:
    if (
        not webhook.is_active
        or webhook.failing_since is None
        or now - webhook.failing_since < timedelta(seconds=disable_after)
    ):
        return False
    webhook.is_active = False
    webhook.disabled_at = now
    hours = disable_after / 3600
    webhook.disabled_reason = f"no delivery succeeded for {hours:g} h"
    webhook.version += 1
    webhook.updated_at = now
    await add_event(
        session,
        WebhookDisabled(
            webhook_id=webhook.id,
            name=webhook.name,
            url=webhook.url,
            failing_since=webhook.failing_since,
            last_error=webhook.last_error,
            disabled_at=now,
        ),
        producer=PRODUCER,
    )
    return True
