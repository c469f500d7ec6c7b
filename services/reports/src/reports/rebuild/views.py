"""Administrators start and watch a rebuild of the read model (gateway: /api/reports/rebuild)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from helpdesk_common.auth import CurrentUser, require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.idempotency import IdempotentRoute
from helpdesk_common.responses import errors
from reports.readmodel.state import ModelState, read_state
from reports.rebuild import service
from reports.rebuild.schemas import RebuildState
from reports.runtime import RuntimeDep

router = APIRouter(
    prefix="/rebuild",
    tags=["rebuild"],
    dependencies=[Depends(require_roles("admin"))],
    route_class=IdempotentRoute,
)


def _out(state: ModelState) -> RebuildState:
    return RebuildState(
        active_generation=state.active,
        building_generation=state.building,
        built_at=state.built_at,
        build_started_at=state.build_started_at,
        build_tickets=state.build_tickets,
        build_requested_by=state.build_requested_by,
        last_error=state.last_error,
        purging_generation=state.purging,
    )


@router.get("")
async def rebuild_state(session: SessionDep) -> RebuildState:
    """The read model's generation, and the rebuild in progress if any."""
    async with session.begin():
        return _out(await read_state(session))


@router.post("", responses=errors(409), status_code=status.HTTP_202_ACCEPTED)
async def start_rebuild(
    principal: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> RebuildState:
    """Rebuild the read model from the tickets service while events keep flowing (409
    while a rebuild runs). The figures switch to the new model once it is complete."""
    async with session.begin():
        state = await service.request_rebuild(
            session, requested_by=principal.name or str(principal.user_id)
        )
    runtime.rebuild_requested.notify()
    return _out(state)
