"""Administrators watch the e-mail queue and retry failed deliveries."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from helpdesk_common.auth import require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.idempotency import IdempotentRoute
from helpdesk_common.pagination import CursorQuery
from helpdesk_common.responses import errors
from notifications.email import service
from notifications.email.models import EmailDelivery
from notifications.email.schemas import (
    DeliveryCounts,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatusParam,
    RetryAllResult,
)

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/admin/deliveries",
    tags=["e-mail deliveries"],
    dependencies=[Depends(require_roles("admin"))],
)


def _out(delivery: EmailDelivery) -> DeliveryOut:
    # A delivery being sent shows no next attempt: its due time is then only the claim's lease.
    out = DeliveryOut.model_validate(delivery)
    if delivery.status in ("sent", "failed", "sending"):
        out.next_attempt_at = None
    return out


@router.get("")
async def list_deliveries(
    session: SessionDep,
    status: DeliveryStatusParam | None = None,
    ticket_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> DeliveryPage:
    async with session.begin():
        items, next_cursor = await service.list_deliveries(
            session, status=status, ticket_id=ticket_id, cursor=cursor, limit=limit
        )
    return DeliveryPage(items=[_out(d) for d in items], next_cursor=next_cursor)


@router.get("/counts")
async def delivery_counts(session: SessionDep) -> DeliveryCounts:
    async with session.begin():
        return DeliveryCounts(**await service.delivery_counts(session))


@router.post("/retry-failed")
async def retry_failed(session: SessionDep) -> RetryAllResult:
    async with session.begin():
        return RetryAllResult(retried=await service.retry_all_failed(session))


# ``:uuid``: "/retry-failed" is not a delivery, so another method on it is a 405 (with the
# methods it takes), not a 422 for a malformed id.
@router.get("/{delivery_id:uuid}")
async def get_delivery(delivery_id: uuid.UUID, session: SessionDep) -> DeliveryDetail:
    async with session.begin():
        delivery = await service.get_delivery(session, delivery_id=delivery_id)
    detail = DeliveryDetail.model_validate(delivery)
    detail.next_attempt_at = _out(delivery).next_attempt_at
    return detail


@router.post("/{delivery_id:uuid}/retry", responses=errors(409))
async def retry_delivery(delivery_id: uuid.UUID, session: SessionDep) -> DeliveryOut:
    async with session.begin():
        delivery = await service.retry_delivery(session, delivery_id=delivery_id)
    return _out(delivery)
