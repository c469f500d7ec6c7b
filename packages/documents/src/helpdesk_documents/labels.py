"""Words and formats documents share, in Bahasa Indonesia (the default) and English.

Service-specific words live with the service's template; these are the ones every document
uses (page numbers, the generation line, statuses, priorities, channels).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

Language = Literal["id", "en"]

LABELS: dict[str, dict[str, str]] = {
    "id": {
        "page": "Halaman",
        "of": "dari",
        "generated": "Dibuat",
        "by": "oleh",
        "period": "Periode",
        "filters": "Filter",
        "no_filters": "Tanpa filter",
        "status.new": "Baru",
        "status.in_progress": "Diproses",
        "status.pending": "Tertunda",
        "status.resolved": "Selesai",
        "status.closed": "Ditutup",
        "status.rejected": "Ditolak",
        "channel.web": "Web",
        "channel.api": "API",
        "channel.email": "E-mail",
        "channel.webhook": "Webhook",
        "channel.phone": "Telepon",
        "channel.walk_in": "Datang langsung",
        "yes": "ya",
        "no": "tidak",
    },
    "en": {
        "page": "Page",
        "of": "of",
        "generated": "Generated",
        "by": "by",
        "period": "Period",
        "filters": "Filters",
        "no_filters": "No filters",
        "status.new": "New",
        "status.in_progress": "In progress",
        "status.pending": "Pending",
        "status.resolved": "Resolved",
        "status.closed": "Closed",
        "status.rejected": "Rejected",
        "channel.web": "Web",
        "channel.api": "API",
        "channel.email": "E-mail",
        "channel.webhook": "Webhook",
        "channel.phone": "Phone",
        "channel.walk_in": "Walk-in",
        "yes": "yes",
        "no": "no",
    },
}

_MONTHS = {
    "id": [
        "Januari", "Februari", "Maret", "April", "Mei", "Juni",
        "Juli", "Agustus", "September", "Oktober", "November", "Desember",
    ],
    "en": [
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ],
}  # fmt: skip


def language_of(value: str | None) -> Language:
    return "en" if value == "en" else "id"


def label(key: str, language: str, default: str | None = None) -> str:
    """The word for ``key``; an unknown key falls back to ``default`` or the key itself."""
    words = LABELS[language_of(language)]
    return words.get(key, default if default is not None else key)


def format_date(value: date, language: str) -> str:
    """4 Desember 2026 / 4 December 2026."""
    return f"{value.day} {_MONTHS[language_of(language)][value.month - 1]} {value.year}"


def format_datetime(value: datetime, *, timezone: str, language: str) -> str:
    """4 Desember 2026 18.20 WIB (the office's zone and its abbreviation)."""
    local = value.astimezone(ZoneInfo(timezone))
    separator = "." if language_of(language) == "id" else ":"
    clock = f"{local.hour:02d}{separator}{local.minute:02d}"
    return f"{format_date(local.date(), language)} {clock} {local.strftime('%Z')}".strip()


def format_duration(seconds: float | None, language: str) -> str:
    """A working-time duration for people: 45 menit, 3 jam 10 menit, 2 hari 4 jam."""
    if seconds is None:
        return "-"
    english = language_of(language) == "en"
    day, hour, minute = ("d", "h", "min") if english else ("hari", "jam", "menit")
    total_minutes = round(seconds / 60)
    if total_minutes < 60:
        return f"{total_minutes} {minute}"
    days, rest = divmod(total_minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} {day} {hours} {hour}"
    return f"{hours} {hour} {minutes} {minute}" if minutes else f"{hours} {hour}"
