"""Per-ticket PDFs (seed 004 §3.7): the submission form and the work completion report
("berita acara").

Whoever may read a ticket may download its documents (``queries.load_ticket``: a requester
of another unit gets 404). Only public facts are printed, whoever asks: the timeline is read
without its internal entries (internal notes, SLA warnings, breaches, escalations) for an
agent too, since a PDF leaves the helpdesk and is handed to the unit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common import sizes
from helpdesk_common.auth import Principal
from helpdesk_common.directory import DirectoryUnit, organisation
from helpdesk_common.errors import Conflict
from helpdesk_common.markdown import markdown_to_text
from helpdesk_documents import (
    DocumentMeta,
    Organisation,
    format_date,
    format_datetime,
    label,
    render_pdf,
)
from helpdesk_documents.labels import Language
from helpdesk_documents.pdf import load_template
from tickets.attachments.service import ADDED, QUARANTINED, REMOVED, current_attachments
from tickets.documents.words import ACTIONS, WORDS
from tickets.masterdata.cache import MasterData
from tickets.tickets import queries
from tickets.tickets.models import Ticket, TimelineEntry

TEMPLATES = "tickets.documents"
# The public timeline kinds about a ticket's files (their internal one is never printed).
FILE_KINDS = (ADDED, REMOVED, QUARANTINED)


@dataclass(frozen=True)
class Attachment:
    """A file attached to a ticket as the form lists it (its size already in words)."""

    name: str
    size: str


def file_size(size: int, language: Language) -> str:
    """A byte count as people read it: 980 B, 12 KB, 1,5 MB (binary multiples, one decimal
    under ten, the language's decimal mark)."""
    return sizes.file_size(size, decimal_mark="," if language == "id" else ".")


async def listed_attachments(
    session: AsyncSession, *, ticket_id: uuid.UUID, language: Language
) -> list[Attachment]:
    """The ticket's current files (neither removed nor infected), oldest first."""
    files = await current_attachments(session, ticket_id=ticket_id)
    return [Attachment(name=f.filename, size=file_size(f.size, language)) for f in files]


@dataclass(frozen=True)
class Document:
    filename: str
    content: bytes


@dataclass(frozen=True)
class Context:
    """What every document needs besides its ticket: words, office zone, master data."""

    language: Language
    timezone: str
    master: MasterData
    now: datetime
    generated_by: str
    organisation: Organisation = field(default_factory=Organisation)

    @property
    def words(self) -> dict[str, str]:
        return WORDS[self.language]

    def when(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        return format_datetime(value, timezone=self.timezone, language=self.language)

    def meta(self, title: str, subtitle: str) -> DocumentMeta:
        return DocumentMeta(
            title=title,
            subtitle=subtitle,
            organisation=self.organisation,
            generated_at=self.now,
            generated_by=self.generated_by,
            language=self.language,
            timezone=self.timezone,
        )


async def letterhead(session: AsyncSession) -> Organisation:
    """The organisation from the directory replica, or the default name until it is set."""
    row = await organisation(session)
    return Organisation.model_validate(row, from_attributes=True) if row else Organisation()


async def public_timeline(session: AsyncSession, *, ticket_id: uuid.UUID) -> list[TimelineEntry]:
    """The ticket's public history, oldest first, whoever asks (never an internal entry)."""
    query = (
        sa.select(TimelineEntry)
        .where(TimelineEntry.ticket_id == ticket_id, sa.not_(TimelineEntry.internal))
        .order_by(TimelineEntry.id)
    )
    return list((await session.scalars(query)).all())


def is_completed(ticket: Ticket) -> bool:
    """Resolved, or closed after a resolution (a berita acara needs the work's result)."""
    if ticket.status == "resolved":
        return True
    return ticket.status == "closed" and bool(ticket.result_summary)


def _status(ticket: Ticket, context: Context) -> str:
    return label(f"status.{ticket.status}", context.language)


def _common_fields(
    ticket: Ticket, unit_name: str | None, context: Context, *, requester: list[Any]
) -> list[list[Any]]:
    w = context.words
    return [
        [w["number"], ticket.number],
        [w["title"], ticket.title],
        [w["unit"], unit_name],
        requester,
        [w["category"], context.master.category_name(ticket.category_id)],
        [w["priority"], context.master.priority_name(ticket.priority)],
    ]


def submission_form_data(
    ticket: Ticket,
    *,
    unit_name: str | None,
    attachments: Sequence[Attachment],
    context: Context,
) -> dict[str, Any]:
    w = context.words
    fields = [
        *_common_fields(
            ticket, unit_name, context, requester=[w["requester"], ticket.requester_name]
        ),
        [w["contact"], ticket.contact_name],
        [w["contact_phone"], ticket.contact_phone],
        [w["contact_email"], ticket.contact_email],
        [w["channel"], label(f"channel.{ticket.channel}", context.language)],
        [w["submitted_at"], context.when(ticket.created_at)],
        [w["status"], _status(ticket, context)],
    ]
    return {
        "fields": fields,
        "description": ticket.description,
        "attachments": [[a.name, a.size] for a in attachments],
    }


def describe(entry: TimelineEntry, language: Language) -> str:
    """What a public timeline line says happened, in words (status change and reason too)."""
    words = ACTIONS[language]
    after = entry.after or {}
    before = entry.before or {}
    if entry.kind == "comment":
        # Comments are Markdown: printed as their plain text (no markers, no HTML).
        return f"{words['comment']}: {markdown_to_text(str(after.get('body') or ''))}"
    if entry.kind in FILE_KINDS:
        size = after.get("size")
        file = str(after.get("filename") or "-")
        if isinstance(size, int):
            file += f" ({file_size(size, language)})"
        return words[entry.kind].format(file=file)
    text = words.get(entry.kind, entry.kind).format(name=after.get("assignee_name") or "-")
    if entry.kind == "edit":
        # The fields a person changed, by name (not the SLA targets an edit re-plans).
        changed = [_field_word(name, language) for name in after]
        if any(changed):
            text += f" ({', '.join(sorted(word for word in changed if word))})"
    if "status" in after and "status" in before:
        old = label(f"status.{before['status']}", language)
        new = label(f"status.{after['status']}", language)
        text += f"; {words['status']}: {old} → {new}"
    if entry.note:
        text += f"; {words['note']}: {entry.note}"
    return text


def _field_word(name: str, language: Language) -> str | None:
    word = WORDS[language].get(name.removesuffix("_id"))
    return word.lower() if word else None


def completion_report_data(
    ticket: Ticket,
    *,
    unit_name: str | None,
    unit_contact: str | None,
    timeline: Sequence[TimelineEntry],
    context: Context,
) -> dict[str, Any]:
    w = context.words
    contact = ticket.contact_name or ticket.requester_name
    requester = ticket.requester_name or "-"
    if contact and contact != ticket.requester_name:
        requester = f"{requester} / {contact}"
    fields = _common_fields(
        ticket, unit_name, context, requester=[f"{w['requester']} / {w['contact']}", requester]
    )
    fields += [
        [w["submitted_at"], context.when(ticket.created_at)],
        [w["completed_at"], context.when(ticket.resolved_at)],
        [w["agent"], ticket.assignee_name],
    ]
    today = context.now.astimezone(ZoneInfo(context.timezone)).date()
    return {
        "fields": fields,
        "actions": [
            [context.when(entry.at), entry.actor_name, describe(entry, context.language)]
            for entry in timeline
        ],
        "result": ticket.result_summary or "",
        "place_date": f"{w['place_blank']}, {format_date(today, context.language)}",
        "signatures": [
            [w["sign_agent"], ticket.assignee_name],
            [f"{w['sign_unit']}\n{unit_name or ''}".strip(), unit_contact or contact],
        ],
    }


async def submission_form(
    session: AsyncSession, *, principal: Principal, ref: str, context: Context
) -> Document:
    """The submission form of a ticket the caller may read (404 otherwise)."""
    loaded = await queries.load_ticket(session, principal=principal, ref=ref)
    ticket = loaded.ticket
    context = await _with_letterhead(session, context)
    attachments = await listed_attachments(session, ticket_id=ticket.id, language=context.language)
    data = submission_form_data(
        ticket, unit_name=loaded.unit_name, attachments=attachments, context=context
    )
    return await _render(
        context, "submission_form.typ", "submission_title", ticket, data, filename="Formulir"
    )


async def completion_report(
    session: AsyncSession, *, principal: Principal, ref: str, context: Context
) -> Document:
    """The berita acara of a resolved ticket the caller may read (404 otherwise; 409
    ``not_resolved`` before the work is done)."""
    loaded = await queries.load_ticket(session, principal=principal, ref=ref)
    ticket = loaded.ticket
    if not is_completed(ticket):
        raise Conflict(
            "not_resolved",
            f"Ticket {ticket.number} has not been resolved yet: the work completion report"
            " (berita acara) is available once an agent has resolved it",
        )
    unit = await session.get(DirectoryUnit, ticket.unit_id)
    timeline = await public_timeline(session, ticket_id=ticket.id)
    context = await _with_letterhead(session, context)
    data = completion_report_data(
        ticket,
        unit_name=loaded.unit_name,
        unit_contact=unit.contact_name if unit else None,
        timeline=timeline,
        context=context,
    )
    return await _render(
        context, "completion_report.typ", "report_title", ticket, data, filename="Berita-Acara"
    )


async def _with_letterhead(session: AsyncSession, context: Context) -> Context:
    return replace(context, organisation=await letterhead(session))


async def _render(
    context: Context,
    template: str,
    title: str,
    ticket: Ticket,
    data: dict[str, Any],
    *,
    filename: str,
) -> Document:
    """The ticket's document from ``template``, titled by the word ``title``, numbered."""
    pdf = await render_pdf(
        load_template(TEMPLATES, template),
        meta=context.meta(context.words[title], ticket.number),
        data=data,
        labels=context.words,
    )
    return Document(filename=f"{filename}-{ticket.number}.pdf", content=pdf)
