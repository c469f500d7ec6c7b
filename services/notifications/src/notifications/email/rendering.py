"""Rendering notifications from Jinja2 templates, in Bahasa Indonesia or English.

Each kind of notification has ``templates/<lang>/<kind>.txt`` and ``<kind>.html``. The text
template also sets two variables read by the service: ``subject`` (the mail's subject and the
in-app title) and ``summary`` (the in-app body).

Comments are written in Markdown (``helpdesk_common.markdown``): the HTML template shows one
with the ``markdown`` filter (rendered and sanitised HTML); the text template, and so the
summary, sees the event's Markdown fields (``MARKDOWN_FIELDS``) already as plain text.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from markupsafe import Markup, escape
from pydantic import BaseModel

from helpdesk_common.markdown import markdown_to_text, render_markdown
from helpdesk_common.sizes import file_size

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"

STATUS_LABELS = {
    "id": {
        "new": "Baru",
        "in_progress": "Diproses",
        "pending": "Tertunda",
        "resolved": "Selesai",
        "closed": "Ditutup",
        "rejected": "Ditolak",
    },
    "en": {
        "new": "New",
        "in_progress": "In progress",
        "pending": "Pending",
        "resolved": "Resolved",
        "closed": "Closed",
        "rejected": "Rejected",
    },
}
PRIORITY_LABELS = {
    "id": {"low": "Rendah", "normal": "Normal", "high": "Tinggi", "critical": "Kritis"},
    "en": {"low": "Low", "normal": "Normal", "high": "High", "critical": "Critical"},
}
SLA_TARGET_LABELS = {
    "id": {"first_response": "respons pertama", "resolution": "penyelesaian"},
    "en": {"first_response": "first response", "resolution": "resolution"},
}
MONTH_NAMES = {
    "id": (
        "Januari", "Februari", "Maret", "April", "Mei", "Juni",
        "Juli", "Agustus", "September", "Oktober", "November", "Desember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip
REPORT_LABELS = {
    "id": {
        "full": "Laporan lengkap",
        "summary": "Ringkasan",
        "trend": "Tren",
        "breakdown": "Rincian",
        "completed": "Rekap pekerjaan selesai",
        "weekly": "mingguan",
        "monthly": "bulanan",
    },
    "en": {
        "full": "Full report",
        "summary": "Summary",
        "trend": "Trend",
        "breakdown": "Breakdown",
        "completed": "Completed work",
        "weekly": "weekly",
        "monthly": "monthly",
    },
}
ATTACHMENT_KIND_LABELS = {
    "id": {
        "supporting": "Dokumen pendukung",
        "evidence": "Bukti pekerjaan",
        "assignment_letter": "Surat tugas",
    },
    "en": {
        "supporting": "Supporting document",
        "evidence": "Evidence of work",
        "assignment_letter": "Assignment letter",
    },
}
# The event fields written in Markdown, per kind of notification.
MARKDOWN_FIELDS: dict[str, tuple[str, ...]] = {"commented": ("body",)}
# The decimal separator of each language (1,5 MB / 1.5 MB).
DECIMAL_MARKS = {"id": ",", "en": "."}
ZONE_LABELS = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    summary: str
    text: str
    html: str
    language: str  # the language rendered in (``Renderer.language`` of the one asked for)


def one_line(value: str, *, limit: int = 200) -> str:
    """Collapse whitespace: a subject must never carry a line break (header injection)."""
    collapsed = re.sub(r"\s+", " ", value).strip()
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1].rstrip() + "…"


def _exported(module: jinja2.environment.TemplateModule, name: str) -> object:
    """A variable the template sets at its top level (``{% set subject = ... %}``): jinja2
    makes it an attribute of the template's module, which no type declares."""
    return getattr(module, name)


def _nl2br(value: str | None) -> Markup:
    # Escape first, then turn line breaks into <br>: user text stays inert in the HTML mail.
    return Markup("<br>\n").join(escape(value or "").splitlines())


def _markdown(value: str | None) -> Markup:
    # Sanitised by render_markdown (an allow-list of tags, safe links only): safe to embed.
    return Markup(render_markdown(value or ""))  # noqa: S704


def _plain_event(kind: str, event: object) -> object:
    """The event with its Markdown fields as plain text, for the text template."""
    fields = MARKDOWN_FIELDS.get(kind, ())
    if not fields or not isinstance(event, BaseModel):
        return event
    return event.model_copy(
        update={name: markdown_to_text(str(getattr(event, name) or "")) for name in fields}
    )


class Addressee(Protocol):
    """A recipient as the templates see it (``recipient``): ``name`` and ``language`` at
    least (routing.recipients.Recipient, say)."""

    @property
    def name(self) -> str: ...

    @property
    def language(self) -> str: ...


A = TypeVar("A", bound=Addressee)

# Stands for the recipient's name in a render shared by several recipients, then replaced by
# each one's. Random per process: no ticket's text can carry it by chance or on purpose.
_NAME_MARK = f"N{secrets.token_hex(16)}N"


class _Tracked:
    """The recipient as a shared render sees it: its name is :data:`_NAME_MARK` (and how
    often it was read is counted), every other attribute the templates read is noted
    (``read``), so that the render is reused only for recipients equal in all of those."""

    __slots__ = ("_target", "name_reads", "read")

    def __init__(self, target: object) -> None:
        self._target = target
        self.name_reads = 0
        self.read: set[str] = set()

    def __getattr__(self, attribute: str) -> object:
        if attribute == "name":
            self.name_reads += 1
            return _NAME_MARK
        self.read.add(attribute)
        return getattr(self._target, attribute)


def _traits(recipient: object, attributes: Sequence[str]) -> tuple[object, ...]:
    return tuple(getattr(recipient, attribute, _Tracked) for attribute in attributes)


@dataclass(frozen=True)
class _Shared:
    """A render with :data:`_NAME_MARK` for the name, for recipients whose ``attributes``
    (all the templates read but the name) equal ``traits``."""

    attributes: tuple[str, ...]
    traits: tuple[object, ...]
    rendered: Rendered

    def fits(self, recipient: object) -> bool:
        return _traits(recipient, self.attributes) == self.traits

    def personal(self, name: str) -> Rendered:
        rendered = self.rendered
        return Rendered(
            subject=rendered.subject,
            summary=rendered.summary,
            # The text template prints the name as is, the HTML one escaped (autoescape).
            text=rendered.text.replace(_NAME_MARK, name),
            html=rendered.html.replace(_NAME_MARK, str(escape(name))),
            language=rendered.language,
        )


class Renderer:
    def __init__(self, *, timezone: str = "Asia/Jakarta", templates: Path = TEMPLATES) -> None:
        try:
            self._zone: ZoneInfo | None = ZoneInfo(timezone)
        except ZoneInfoNotFoundError:
            self._zone = None
        # Indonesia's own abbreviations; other zones take theirs from the date (``%Z``).
        self._zone_label = ZONE_LABELS.get(str(self._zone)) if self._zone is not None else None
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Templates ship with the code: no need to stat the files on every render.
            auto_reload=False,
        )
        self._env.filters["nl2br"] = _nl2br
        self._env.filters["markdown"] = _markdown
        # The templates by name, past jinja2's own cache (its lookup and its globals' map
        # cost more than a dict's): every mail renders two.
        self._templates: dict[str, jinja2.Template] = {}
        # A ticket's dates appear in both parts of each of its mails: formatted once.
        self._when = functools.lru_cache(maxsize=1024)(self._format_when)
        # The templates' helpers, built once per language rather than per render.
        self._helpers = {language: self._build_helpers(language) for language in LANGUAGES}

    def language(self, value: str | None) -> str:
        return value if value in LANGUAGES else DEFAULT_LANGUAGE

    def _format_when(self, value: datetime | None) -> str:
        if value is None:
            return "-"
        if self._zone is not None:
            local = value.astimezone(self._zone)
            label = self._zone_label or local.strftime("%Z")
        else:
            local, label = value, "UTC"
        return f"{local:%d-%m-%Y %H:%M} {label}"

    def _build_helpers(self, language: str) -> dict[str, Any]:
        statuses = STATUS_LABELS[language]
        priorities = PRIORITY_LABELS[language]
        targets = SLA_TARGET_LABELS[language]
        months = MONTH_NAMES[language]
        reports = REPORT_LABELS[language]
        attachment_kinds = ATTACHMENT_KIND_LABELS[language]
        decimal_mark = DECIMAL_MARKS[language]
        return {
            "status_label": lambda code: statuses.get(code, code),
            "priority_label": lambda code: priorities.get(code, code),
            "target_label": lambda code: targets.get(code, code),
            "when": self._when,
            # 4 Desember 2026 / 4 December 2026
            "day": lambda value: f"{value.day} {months[value.month - 1]} {value.year}",
            "report_label": lambda code: reports.get(code, code),
            "attachment_kind_label": lambda code: attachment_kinds.get(code, code),
            "file_size": lambda size: file_size(size, decimal_mark=decimal_mark),
        }

    def _template(self, name: str) -> jinja2.Template:
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = self._env.get_template(name)
        return template

    def render(self, kind: str, *, language: str, context: dict[str, Any]) -> Rendered:
        language = self.language(language)
        values = {**context, **self._helpers[language], "language": language}
        text_values = {**values, "event": _plain_event(kind, values.get("event"))}
        text_module = self._template(f"{language}/{kind}.txt").make_module(text_values)
        subject = one_line(str(_exported(text_module, "subject")))
        html = self._template(f"{language}/{kind}.html").render(values, subject=subject)
        return Rendered(
            subject=subject,
            summary=one_line(str(_exported(text_module, "summary")), limit=500),
            text=str(text_module),
            html=html,
            language=language,
        )

    def render_each(
        self, kind: str, *, recipients: Sequence[A], context: dict[str, Any]
    ) -> list[Rendered]:
        """``kind`` for each of ``recipients`` (as ``recipient`` in ``context``), the very
        text :meth:`render` gives, but rendered once for all who differ only in their name:
        a new ticket's mail to twenty agents costs a render per language, not twenty."""
        shared: list[_Shared] = []
        result: list[Rendered] = []
        shareable = True
        for recipient in recipients:
            language = self.language(recipient.language)
            found = next((s for s in shared if s.fits(recipient)), None)
            if found is None and shareable:
                found = self._shared(kind, language=language, recipient=recipient, context=context)
                if found is not None:
                    shared.append(found)
                shareable = found is not None
            if found is None:  # the name is more than printed: each their own render
                values = {**context, "recipient": recipient}
                result.append(self.render(kind, language=language, context=values))
            else:
                result.append(found.personal(recipient.name))
        return result

    def _shared(
        self, kind: str, *, language: str, recipient: Addressee, context: dict[str, Any]
    ) -> _Shared | None:
        """A render for ``recipient`` with a mark for the name, or None unless each read of
        the name printed it, in the body only: a name in the subject or summary (trimmed to
        one line), tested or put through a filter could not be replaced afterwards."""
        tracked = _Tracked(recipient)
        rendered = self.render(kind, language=language, context={**context, "recipient": tracked})
        if _NAME_MARK in rendered.subject or _NAME_MARK in rendered.summary:
            return None
        printed = rendered.text.count(_NAME_MARK) + rendered.html.count(_NAME_MARK)
        if printed != tracked.name_reads:
            return None
        # The language read by render() is the one it was given; recipients are compared in it.
        attributes = tuple(sorted(tracked.read | {"language"}))
        return _Shared(attributes, _traits(recipient, attributes), rendered)
