"""``/internal/intake/...``: tickets and comments from the intake channels, for the
integrations service (the shared internal token; the gateway never forwards these paths).

Each request is one transaction on the write path's connection: the source key's row is
committed with the ticket or comment (``tickets.intake.service``). 201 for what this call
made, 200 for what an earlier call with the same ``source_key`` made.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Response

from helpdesk_common.auth import require_internal_caller
from helpdesk_common.db import DriverPool
from helpdesk_common.outbox import wake_relays
from helpdesk_common.responses import errors
from tickets.intake import service
from tickets.intake.schemas import IntakeCommentCreate, IntakeOut, IntakeTicketCreate
from tickets.runtime import RuntimeDep

router = APIRouter(
    prefix="/internal/intake",
    tags=["internal"],
    dependencies=[Depends(require_internal_caller)],
)


def _answer(result: IntakeOut, response: Response) -> IntakeOut:
    if result.created:
        wake_relays()  # committed
    else:
        response.status_code = 200
    return result


@router.post(
    "/tickets",
    status_code=201,
    responses={200: {"model": IntakeOut, "description": "made before (same source_key)"}},
)
async def intake_ticket(
    body: IntakeTicketCreate, pool: DriverPool, runtime: RuntimeDep, response: Response
) -> IntakeOut:
    """A ticket from a mail or chat message: as the user the sender is (requester_id), or
    for unit_id with the contact fields, shown as sender_name, when nobody knows them."""
    async with pool.acquire() as connection, connection.transaction():
        result = await service.create_ticket(connection, runtime, data=body, now=datetime.now(UTC))
    return _answer(result, response)


@router.post(
    "/comments",
    status_code=201,
    responses={
        200: {"model": IntakeOut, "description": "made before (same source_key)"},
        **errors(403, 404, 409, s409="ticket_closed: the ticket is closed or rejected"),
    },
)
async def intake_comment(
    body: IntakeCommentCreate, pool: DriverPool, runtime: RuntimeDep, response: Response
) -> IntakeOut:
    """A public comment from a reply; a resolved ticket is reopened first when
    TICKETS_REOPEN_ON_REPLY (default true)."""
    async with pool.acquire() as connection, connection.transaction():
        result = await service.add_comment(connection, runtime, data=body, now=datetime.now(UTC))
    return _answer(result, response)
