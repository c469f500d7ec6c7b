"""Per-ticket PDFs: ``/tickets/{ref}/documents/submission-form.pdf`` and
``/tickets/{ref}/documents/berita-acara.pdf`` (for whoever may read the ticket)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from helpdesk_common.auth import CurrentUser
from helpdesk_common.db import SessionDep
from helpdesk_documents import PDF_MEDIA_TYPE, attachment_disposition
from helpdesk_documents.labels import language_of
from tickets.documents import service
from tickets.documents.service import Context
from tickets.runtime import RuntimeDep
from tickets.tickets.numbering import TICKET_PATH, TICKET_REF_PATTERN

router = APIRouter(tags=["documents"])
TicketRef = Annotated[
    str,
    Path(
        description="a ticket's id (UUID) or number (TKT-2026-000123)",
        max_length=64,
        # Declared; the path's convertor enforces it (404 for anything else).
        json_schema_extra={"pattern": TICKET_REF_PATTERN},
    ),
]
Lang = Annotated[
    Literal["id", "en"] | None,
    Query(description="the document's language; default the caller's, else Indonesian"),
]
# The documents by the name in their path; each returns the PDF of a ticket the caller may read.
DOCUMENTS = {
    "submission-form": service.submission_form,
    "berita-acara": service.completion_report,
}
DocumentName = Literal["submission-form", "berita-acara"]


@router.get(
    f"{TICKET_PATH}/documents/{{document}}.pdf",
    response_class=Response,
    responses={
        200: {"content": {PDF_MEDIA_TYPE: {}}},
        409: {"description": "The ticket is not resolved yet (a completion report)"},
    },
)
async def ticket_document(
    ticket_id: TicketRef,
    document: DocumentName,
    principal: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    lang: Lang = None,
) -> Response:
    """A ticket's document as PDF: ``submission-form`` (Formulir Pengajuan Tiket: the ticket
    as submitted and its status now) or ``berita-acara`` (Berita Acara Penyelesaian
    Pekerjaan of a resolved ticket; 409 ``not_resolved`` before)."""
    context = Context(
        language=language_of(lang or principal.language),
        timezone=runtime.settings.timezone,
        master=await runtime.masterdata.get(),
        now=datetime.now(UTC),
        generated_by=principal.name or str(principal.user_id),
    )
    pdf = await DOCUMENTS[document](session, principal=principal, ref=ticket_id, context=context)
    return Response(
        pdf.content,
        media_type=PDF_MEDIA_TYPE,
        headers={
            "Content-Disposition": attachment_disposition(pdf.filename),
            # A ticket's documents change with it and may carry personal data.
            "Cache-Control": "no-store",
        },
    )
