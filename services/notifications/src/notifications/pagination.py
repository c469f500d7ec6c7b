"""Keyset cursors: a listing's cursor is the ``seq`` of the last row it returned."""

from __future__ import annotations

from helpdesk_common.errors import ApiError


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise ApiError(422, "validation_error", "Invalid cursor", field="cursor")
    return int(cursor)


def next_cursor(seqs: list[int], *, limit: int) -> str | None:
    """A cursor for the next page, or None when this page was the last."""
    return str(seqs[-1]) if seqs and len(seqs) == limit else None
