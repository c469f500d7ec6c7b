"""Ticket data export: ``GET /tickets/export.csv`` (the list's filters, streamed), the column
chooser, the privacy policy and the export log.

The export's rows are read inside the response body's generator, after this route has
returned: the request's session may be closed by then, so the generator opens a session of
its own (one REPEATABLE READ, read-only snapshot) and closes it when the stream ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo

import anyio
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from helpdesk_common.auth import CurrentUser, Principal, require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.idempotency import IdempotentRoute
from helpdesk_common.inputs import INT4_MAX
from helpdesk_common.pagination import CursorQuery, Page
from helpdesk_documents import CSV_MEDIA_TYPE, attachment_disposition, csv_chunks
from helpdesk_documents.labels import Language, language_of
from tickets.exports import service
from tickets.exports.columns import COLUMNS, ExportColumn, Formatter
from tickets.exports.schemas import ExportColumnOut, ExportLogOut, ExportPolicyIn, ExportPolicyOut
from tickets.runtime import RuntimeDep, TicketsRuntime
from tickets.tickets.filters import TicketSelection, TicketSelectionDep, comma_separated

log = logging.getLogger("tickets.exports")
router = APIRouter(tags=["exports"], route_class=IdempotentRoute)
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Staff = Annotated[Principal, Depends(require_roles("agent", "admin", "leader"))]
Lang = Annotated[
    Literal["id", "en"] | None,
    Query(description="language of the headers and values; default the caller's, else id"),
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _language(lang: str | None, principal: Principal) -> Language:
    return language_of(lang or principal.language)


@router.get("/exports/columns")
async def list_columns(
    principal: CurrentUser, session: SessionDep, lang: Lang = None
) -> list[ExportColumnOut]:
    """The columns an export may have, and which of them the caller may choose."""
    language = _language(lang, principal)
    policy = await service.get_policy(session)
    personal_allowed = service.may_export_personal_data(principal.role, policy)
    return [
        ExportColumnOut(
            key=column.key,
            label=column.label(language),
            personal=column.personal,
            allowed=personal_allowed or not column.personal,
        )
        for column in COLUMNS.values()
    ]


@router.get("/exports/policy")
async def get_policy(_: Staff, session: SessionDep) -> ExportPolicyOut:
    policy = await service.get_policy(session)
    return ExportPolicyOut(
        contact_roles=policy.contact_roles,
        updated_at=policy.updated_at,
        updated_by_name=policy.updated_by_name,
    )


@router.put("/exports/policy")
async def set_policy(body: ExportPolicyIn, admin: Admin, session: SessionDep) -> ExportPolicyOut:
    async with session.begin():
        policy = await service.set_policy(
            session, actor=admin, contact_roles=body.contact_roles, now=utcnow()
        )
    return ExportPolicyOut(
        contact_roles=policy.contact_roles,
        updated_at=policy.updated_at,
        updated_by_name=policy.updated_by_name,
    )


@router.get("/exports/log")
async def export_log(
    _: Admin,
    session: SessionDep,
    runtime: RuntimeDep,
    cursor: CursorQuery = None,
    limit: Annotated[
        int | None, Query(ge=1, le=INT4_MAX, description="over the maximum page size: that")
    ] = None,
) -> Page[ExportLogOut]:
    """Who exported what, newest first."""
    settings = runtime.settings
    page_size = min(limit or settings.page_size_default, settings.page_size_max)
    entries, next_cursor = await service.list_log(session, cursor=cursor, limit=page_size)
    return Page(items=[ExportLogOut.model_validate(e) for e in entries], next_cursor=next_cursor)


@router.get(
    "/tickets/export.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {}}},
        403: {"description": "The caller's role may not export personal data"},
    },
)
async def export_tickets(
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    selection: TicketSelectionDep,
    columns: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="comma-separated column keys",
            json_schema_extra={"pattern": comma_separated(COLUMNS)},
        ),
    ] = None,
    lang: Lang = None,
) -> StreamingResponse:
    """The tickets the list shows for the same filters (and visibility), as CSV."""
    language = _language(lang, principal)
    now = utcnow()
    async with session.begin():
        policy = await service.get_policy(session)
        chosen = service.choose_columns(
            service.parse_columns(columns), role=principal.role, policy=policy
        )
        entry = await service.start_log(
            session,
            principal=principal,
            selection=selection,
            columns=chosen,
            language=language,
            now=now,
        )
    export = Export(
        runtime=runtime,
        log_id=entry.id,
        principal=principal,
        selection=selection,
        columns=chosen,
        formatter=Formatter(
            language=language,
            timezone=runtime.settings.timezone,
            master=await runtime.masterdata.get(),
        ),
        now=now,
    )
    day = now.astimezone(ZoneInfo(runtime.settings.timezone)).date().isoformat()
    return ExportResponse(
        export,
        media_type=CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": attachment_disposition(service.export_filename(language, day)),
            "Cache-Control": "no-store",
        },
    )


@dataclass
class Export:
    """One export's response body and the log entry it finishes."""

    runtime: TicketsRuntime
    log_id: int
    principal: Principal
    selection: TicketSelection
    columns: Sequence[ExportColumn]
    formatter: Formatter
    now: datetime
    finished: bool = False

    async def body(self) -> AsyncGenerator[bytes, None]:
        progress = service.Progress()
        status = "failed"
        try:
            async with self.runtime.sessionmaker() as session:
                await service.begin_snapshot(session)
                rows = service.export_rows(
                    session,
                    columns=self.columns,
                    principal=self.principal,
                    selection=self.selection,
                    formatter=self.formatter,
                    now=self.now,
                    progress=progress,
                )
                header = [column.label(self.formatter.language) for column in self.columns]
                # csv_chunks is an async generator (typed as an iterator): closed with the
                # rows when the client goes away, so the cursor is not left to the GC.
                chunks = cast(AsyncGenerator[bytes, None], csv_chunks(header, rows))
                async with aclosing(rows), aclosing(chunks):
                    async for chunk in chunks:
                        yield chunk
            status = "completed"
        except (GeneratorExit, asyncio.CancelledError):
            # The client went away: the server cancels the body, or it is closed below.
            status = "aborted"
            raise
        except Exception:
            log.exception("export %s failed after %s rows", self.log_id, progress.rows)
            raise
        finally:
            await self.finish(status, progress.rows)

    async def finish(self, status: str, row_count: int) -> None:
        """Record how the export ended, once; shielded, since it runs while the request is
        being cancelled when the client went away."""
        if self.finished:
            return
        self.finished = True
        with anyio.CancelScope(shield=True):
            try:
                async with self.runtime.sessionmaker() as session, session.begin():
                    await service.finish_log(
                        session,
                        log_id=self.log_id,
                        status=status,
                        row_count=row_count,
                        now=utcnow(),
                    )
            except Exception:
                log.exception("export %s: could not record its end (%s)", self.log_id, status)
                return
        log.info(
            "export finished",
            extra={"export_id": self.log_id, "status": status, "rows": row_count},
        )


class ExportResponse(StreamingResponse):
    """Streams an export and always ends it: a client that leaves while the body waits to
    be sent (or before it started) leaves the generator suspended, and only the garbage
    collector would close it, holding a database connection until then."""

    def __init__(self, export: Export, **kwargs: Any) -> None:
        self.export = export
        self._body = export.body()
        super().__init__(self._body, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()
                await self.export.finish("aborted", 0)  # never started: nothing was sent
