"""CSV for spreadsheets, streamed: UTF-8 with a byte-order mark (Excel and LibreOffice then
read Indonesian text correctly), one header row, CRLF line ends, cells that would start a
formula neutralised.

Rows are written to a small buffer and handed on in chunks of about 64 KB, so a million-row
export starts at once and never sits whole in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import date, datetime
from decimal import Decimal

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff".encode()
# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): prefixed with "'".
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str | int | float:
    """A value as a spreadsheet cell: text that could start a formula gets a leading "'";
    numbers stay numbers (a negative number is not a formula), None is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


async def csv_chunks(
    header: Sequence[str],
    rows: AsyncIterable[Sequence[object]],
    *,
    chunk_bytes: int = 64 * 1024,
) -> AsyncIterator[bytes]:
    """The CSV document as byte chunks: the BOM and header first (so the first byte leaves
    before the first row is read), then rows in chunks of about ``chunk_bytes``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    yield BOM + buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    async for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        if buffer.tell() >= chunk_bytes:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


async def rows_of(rows: Sequence[Sequence[object]]) -> AsyncIterator[Sequence[object]]:
    """An in-memory list of rows as the async iterable :func:`csv_chunks` takes."""
    for row in rows:
        yield row
