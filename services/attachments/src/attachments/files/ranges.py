"""HTTP range requests (RFC 9110 §14): one byte range of a file, or the whole of it."""

from __future__ import annotations

import re

from helpdesk_common.errors import ApiError

# At most 18 digits a side (past any file's size, within a 64-bit integer): a longer number
# is no range we serve (the whole file), rather than int()'s ValueError past 4,300 digits.
_SINGLE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of ``Range``, or None to send the whole file (no
    header, or several ranges: answering those whole is allowed and simpler for both
    sides). An unsatisfiable range is 416 with the size in ``Content-Range``."""
    if not header:
        return None
    match = _SINGLE.fullmatch(header.strip())
    if match is None:
        return None  # several ranges, or another unit: the whole file
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # the last N bytes
        length = int(last_text)
        if length == 0:
            raise _unsatisfiable(size)
        return max(0, size - length), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise _unsatisfiable(size)
    return first, min(last, size - 1)


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(
        416,
        "range_not_satisfiable",
        f"The file has {size} bytes",
        field="Range",
        headers={"Content-Range": f"bytes */{size}"},
    )
