"""The columns a ticket export may have: their headers in both languages, whether they are
personal data, the SQL each reads and how its value is written for a spreadsheet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.sql import ColumnElement

from helpdesk_common.directory import DirectoryUnit as Unit
from helpdesk_documents import label
from helpdesk_documents.labels import Language
from tickets.masterdata.cache import MasterData
from tickets.tickets.models import Ticket
from tickets.tickets.queries import overdue_condition

# How a value is written: text as is, or one of the kinds Formatter knows.
Kind = str


@dataclass(frozen=True)
class ExportColumn:
    key: str
    label_id: str
    label_en: str
    # The SQL expression the column reads, given the export's "now" (for overdue).
    source: Callable[[datetime], ColumnElement[Any]]
    kind: Kind = "text"
    # Personal data (UU PDP): only the roles of the privacy policy may export it.
    personal: bool = False

    def label(self, language: Language) -> str:
        return self.label_en if language == "en" else self.label_id


def _col(expression: Any) -> Callable[[datetime], ColumnElement[Any]]:
    return lambda _now: expression


COLUMNS: dict[str, ExportColumn] = {
    c.key: c
    for c in (
        ExportColumn("number", "Nomor", "Number", _col(Ticket.number)),
        ExportColumn("title", "Judul", "Title", _col(Ticket.title)),
        ExportColumn("description", "Uraian", "Description", _col(Ticket.description)),
        ExportColumn("status", "Status", "Status", _col(Ticket.status), "status"),
        ExportColumn("priority", "Prioritas", "Priority", _col(Ticket.priority), "priority"),
        ExportColumn("category", "Kategori", "Category", _col(Ticket.category_id), "category"),
        ExportColumn("unit", "Unit kerja (SKPD)", "Unit (SKPD)", _col(Unit.name)),
        ExportColumn("requester", "Pemohon", "Requester", _col(Ticket.requester_name)),
        ExportColumn("contact_name", "Narahubung", "Contact name", _col(Ticket.contact_name)),
        ExportColumn(
            "contact_phone",
            "Telepon narahubung",
            "Contact phone",
            _col(Ticket.contact_phone),
            personal=True,
        ),
        ExportColumn(
            "contact_email",
            "E-mail narahubung",
            "Contact e-mail",
            _col(Ticket.contact_email),
            personal=True,
        ),
        ExportColumn("channel", "Kanal", "Channel", _col(Ticket.channel), "channel"),
        ExportColumn("assignee", "Petugas", "Assignee", _col(Ticket.assignee_name)),
        ExportColumn("created_at", "Dibuat", "Created", _col(Ticket.created_at), "time"),
        ExportColumn(
            "first_response_at",
            "Respons pertama",
            "First response",
            _col(Ticket.first_response_at),
            "time",
        ),
        ExportColumn("resolved_at", "Diselesaikan", "Resolved", _col(Ticket.resolved_at), "time"),
        ExportColumn("closed_at", "Ditutup", "Closed", _col(Ticket.closed_at), "time"),
        ExportColumn(
            "first_response_due_at",
            "Batas respons pertama",
            "First response due",
            _col(Ticket.first_response_due_at),
            "time",
        ),
        ExportColumn(
            "resolution_due_at",
            "Batas penyelesaian",
            "Resolution due",
            _col(Ticket.resolution_due_at),
            "time",
        ),
        ExportColumn("overdue", "Terlambat", "Overdue", overdue_condition, "bool"),
        ExportColumn(
            "first_response_minutes",
            "Waktu respons pertama (menit kerja)",
            "First response time (working minutes)",
            _col(Ticket.first_response_seconds),
            "minutes",
        ),
        ExportColumn(
            "resolution_minutes",
            "Waktu penyelesaian (menit kerja)",
            "Resolution time (working minutes)",
            _col(Ticket.resolution_seconds),
            "minutes",
        ),
        ExportColumn(
            "reopen_count", "Jumlah dibuka kembali", "Times reopened", _col(Ticket.reopen_count)
        ),
        ExportColumn(
            "result_summary", "Hasil pekerjaan", "Result summary", _col(Ticket.result_summary)
        ),
    )
}

DEFAULT_COLUMNS = (
    "number",
    "title",
    "status",
    "priority",
    "category",
    "unit",
    "assignee",
    "created_at",
    "resolved_at",
)
PERSONAL_COLUMNS = frozenset(key for key, column in COLUMNS.items() if column.personal)


@dataclass(frozen=True)
class Formatter:
    """Writes values the way a spreadsheet user reads them: office-local times as
    ``YYYY-MM-DD HH:MM``, statuses, channels and priorities by name, durations in minutes."""

    language: Language
    timezone: str
    master: MasterData

    def for_kind(self, kind: Kind) -> Callable[[Any], object]:
        zone = ZoneInfo(self.timezone)
        language = self.language
        yes, no = label("yes", language), label("no", language)

        def when(value: datetime | None) -> object:
            return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else None

        formats: dict[Kind, Callable[[Any], object]] = {
            "text": lambda value: value,
            "status": lambda value: label(f"status.{value}", language),
            "channel": lambda value: label(f"channel.{value}", language),
            "priority": self.master.priority_name,
            "category": self.master.category_name,
            "time": when,
            "bool": lambda value: yes if value else no,
            "minutes": lambda value: None if value is None else round(value / 60),
        }
        return formats[kind]
