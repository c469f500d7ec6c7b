"""Per-ticket PDFs: ``/tickets/{ref}/documents/submission-form.pdf`` and
``/tickets/{ref}/documents/berita-acara.pdf`` (for whoever may read the ticket)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import CurrentUser, Principal
from helpdesk_common.db import SessionDep
from helpdesk_documents import PDF_MEDIA_TYPE, attachment_disposition
from helpdesk_documents.labels import language_of
from tickets.documents import service
from tickets.documents.service import Context, Document
from tickets.runtime import RuntimeDep, TicketsRuntime

router = APIRouter(tags=["documents"])
TicketRef = Annotated[
    str, Path(description="a ticket's id (UUID) or number (TKT-2026-000123)", max_length=64)
]
Lang = Annotated[
    Literal["id", "en"] | None,
    Query(description="the document's language; default the caller's, else Indonesian"),
]
Build = Callable[..., Awaitable[Document]]


async def _download(
    build: Build,
    *,
    ref: str,
    lang: str | None,
    principal: Principal,
    session: AsyncSession,
    runtime: TicketsRuntime,
) -> Response:
    context = Context(
        language=language_of(lang or principal.language),
        timezone=runtime.settings.timezone,
        master=await runtime.masterdata.get(),
        # typst's document timestamp takes whole seconds only.
        now=datetime.now(UTC).replace(microsecond=0),
        generated_by=principal.name or str(principal.user_id),
    )
    document = await build(session, principal=principal, ref=ref, context=context)
    return Response(
        document.content,
        media_type=PDF_MEDIA_TYPE,
        headers={
            "Content-Disposition": attachment_disposition(document.filename),
            # A ticket's documents change with it and may carry personal data.
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/tickets/{ticket_id}/documents/submission-form.pdf",
    response_class=Response,
    responses={200: {"content": {PDF_MEDIA_TYPE: {}}}},
)
async def submission_form(
    ticket_id: TicketRef,
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    lang: Lang = None,
) -> Response:
    """Formulir Pengajuan Tiket: the ticket as submitted and its status now."""
    return await _download(
        service.submission_form,
        ref=ticket_id,
        lang=lang,
        principal=principal,
        session=session,
        runtime=runtime,
    )


@router.get(
    "/tickets/{ticket_id}/documents/berita-acara.pdf",
    response_class=Response,
    responses={200: {"content": {PDF_MEDIA_TYPE: {}}}},
)
async def completion_report(
    ticket_id: TicketRef,
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    lang: Lang = None,
) -> Response:
    """Berita Acara Penyelesaian Pekerjaan of a resolved ticket (409 ``not_resolved`` before)."""
    return await _download(
        service.completion_report,
        ref=ticket_id,
        lang=lang,
        principal=principal,
        session=session,
        runtime=runtime,
    )
