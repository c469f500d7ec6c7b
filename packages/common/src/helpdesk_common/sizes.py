"""Byte counts as people read them, defined once (mails, PDFs, API messages)."""

from __future__ import annotations


def file_size(size: int, *, decimal_mark: str = ".") -> str:
    """980 B, 12 KB, 1.5 MB (binary multiples, one decimal under ten; ``decimal_mark`` ","
    for Bahasa Indonesia)."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
    return f"{text.replace('.', decimal_mark)} {unit}"
