"""Outbound webhooks over HTTP (gateway: /api/integrations/webhooks), administrators only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from helpdesk_common.auth import require_roles
from helpdesk_common.contracts import CATALOGUE
from helpdesk_common.contracts.subscriptions import SUBSCRIPTIONS
from helpdesk_common.db import SessionDep
from helpdesk_common.errors import InvalidInput
from helpdesk_common.idempotency import IdempotentRoute, secret_fields
from helpdesk_common.pagination import CursorQuery, Page
from helpdesk_common.responses import errors
from integrations.runtime import RuntimeDep
from integrations.webhooks import service
from integrations.webhooks.consumer import CONSUMER_NAME
from integrations.webhooks.models import Webhook, WebhookDelivery
from integrations.webhooks.schemas import (
    DeliveryDetail,
    DeliveryOut,
    DeliveryStatus,
    EventTypeOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)

router = APIRouter(
    prefix="/webhooks",
    tags=["outbound webhooks"],
    route_class=IdempotentRoute,
    dependencies=[Depends(require_roles("admin"))],
)

LimitQuery = Annotated[int, Query(ge=1, le=100)]


def _out(webhook: Webhook) -> WebhookOut:
    return WebhookOut(
        id=webhook.id,
        name=webhook.name,
        url=webhook.url,
        has_secret=bool(webhook.secret_encrypted),
        event_types=list(webhook.event_types),
        is_active=webhook.is_active,
        state=service.state_of(webhook),  # type: ignore[arg-type]
        failing_since=webhook.failing_since,
        disabled_at=webhook.disabled_at,
        disabled_reason=webhook.disabled_reason,
        last_success_at=webhook.last_success_at,
        last_error=webhook.last_error,
        version=webhook.version,
        created_at=webhook.created_at,
        updated_at=webhook.updated_at,
    )


def _delivery(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut.model_validate(delivery)


def _describe(event_type: str) -> str:
    doc = CATALOGUE[event_type].__doc__ or ""
    first = doc.strip().split("\n\n", 1)[0]
    return " ".join(first.split()) or event_type


@router.get("/event-types")
async def event_types() -> list[EventTypeOut]:
    """The events a webhook may subscribe to."""
    return [
        EventTypeOut(event_type=name, description=_describe(name))
        for name in sorted(SUBSCRIPTIONS[CONSUMER_NAME])
    ]


@router.get("")
async def list_webhooks(
    session: SessionDep, cursor: CursorQuery = None, limit: LimitQuery = 50
) -> Page[WebhookOut]:
    """By name."""
    async with session.begin():
        rows, next_cursor = await service.list_webhooks(session, cursor=cursor, limit=limit)
        return Page(items=[_out(w) for w in rows], next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED)
@secret_fields("secret")
async def create_webhook(
    body: WebhookCreate, session: SessionDep, runtime: RuntimeDep
) -> WebhookCreated:
    """The URL's host must resolve to addresses a webhook may call (422 otherwise: see the
    SSRF rules in docs/integrations.md). Without ``secret`` one is generated and returned
    here once (a replay of this request with its Idempotency-Key answers ``secret: null``)."""
    async with session.begin():
        webhook, generated = await service.create_webhook(
            session,
            cipher=runtime.cipher,
            allowed_networks=runtime.settings.webhook_allowed_networks,
            name=body.name,
            url=body.url,
            secret=body.secret,
            event_types=body.event_types,
            is_active=body.is_active,
        )
        return WebhookCreated(**_out(webhook).model_dump(), secret=generated)


@router.get("/{webhook_id:uuid}")
async def get_webhook(webhook_id: uuid.UUID, session: SessionDep) -> WebhookOut:
    async with session.begin():
        return _out(await service.get_webhook(session, webhook_id=webhook_id))


@router.patch("/{webhook_id:uuid}")
@secret_fields("secret")
async def update_webhook(
    webhook_id: uuid.UUID, body: WebhookUpdate, session: SessionDep, runtime: RuntimeDep
) -> WebhookOut:
    """Only the fields sent change (``secret`` replaces the key); ``is_active: true``
    re-enables a disabled webhook and its waiting deliveries go on."""
    changes = body.model_dump(exclude_unset=True)
    for name, value in list(changes.items()):
        if value is None:
            raise InvalidInput("required", "may not be null", field=name)
    async with session.begin():
        webhook = await service.update_webhook(
            session,
            cipher=runtime.cipher,
            allowed_networks=runtime.settings.webhook_allowed_networks,
            webhook_id=webhook_id,
            changes=changes,
        )
        return _out(webhook)


@router.delete("/{webhook_id:uuid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: uuid.UUID, session: SessionDep) -> Response:
    """The webhook and its delivery log."""
    async with session.begin():
        await service.delete_webhook(session, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id:uuid}/deliveries")
async def list_deliveries(
    webhook_id: uuid.UUID,
    session: SessionDep,
    status: DeliveryStatus | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[DeliveryOut]:
    """The delivery log, newest first."""
    async with session.begin():
        rows, next_cursor = await service.list_deliveries(
            session, webhook_id=webhook_id, status=status, cursor=cursor, limit=limit
        )
        return Page(items=[_delivery(d) for d in rows], next_cursor=next_cursor)


@router.get("/{webhook_id:uuid}/deliveries/{delivery_id:uuid}")
async def get_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep
) -> DeliveryDetail:
    """With the body sent and the start of the last answer."""
    async with session.begin():
        delivery = await service.get_delivery(
            session, webhook_id=webhook_id, delivery_id=delivery_id
        )
        return DeliveryDetail.model_validate(delivery)


@router.post(
    "/{webhook_id:uuid}/deliveries/{delivery_id:uuid}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(409, s409="The delivery is still being attempted (`delivery_outstanding`)"),
)
async def redeliver(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep
) -> DeliveryOut:
    """Send the event again as a new delivery (same ``event_id``, new ``delivery_id``),
    after the ticket's deliveries waiting now."""
    async with session.begin():
        delivery = await service.redeliver(session, webhook_id=webhook_id, delivery_id=delivery_id)
        return _delivery(delivery)


@router.post("/{webhook_id:uuid}/ping", status_code=status.HTTP_202_ACCEPTED)
async def ping(webhook_id: uuid.UUID, session: SessionDep) -> DeliveryOut:
    """A ``webhook.ping`` delivery, sent at once (also to a disabled webhook)."""
    async with session.begin():
        return _delivery(await service.ping(session, webhook_id=webhook_id))
