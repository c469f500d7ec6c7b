"""CSV: BOM, one header row, Indonesian text intact, formulas neutralised, streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence

from helpdesk_documents import attachment_disposition, csv_chunks, safe_cell
from helpdesk_documents.csvstream import BOM


async def _collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


async def _rows(count: int) -> AsyncIterator[Sequence[object]]:
    for i in range(count):
        yield [i, f"Dinas Pendidikan — Kecamatan Ngaglik ({i})", "=1+1", -5, None]


async def test_bom_header_rows_and_indonesian_text_round_trip() -> None:
    chunks = await _collect(csv_chunks(["No", "SKPD", "Catatan", "Nilai", "Kosong"], _rows(3)))
    data = b"".join(chunks)
    assert data.startswith(BOM)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["No", "SKPD", "Catatan", "Nilai", "Kosong"]
    assert rows[1] == ["0", "Dinas Pendidikan — Kecamatan Ngaglik (0)", "'=1+1", "-5", ""]
    assert len(rows) == 4


async def test_streamed_in_chunks_with_the_header_first() -> None:
    chunks = await _collect(
        csv_chunks(["No", "SKPD", "a", "b", "c"], _rows(5000), chunk_bytes=4096)
    )
    assert chunks[0] == BOM + b"No,SKPD,a,b,c\r\n"
    assert len(chunks) > 10
    assert all(len(chunk) < 4096 + 200 for chunk in chunks)


def test_safe_cell() -> None:
    assert safe_cell("+62 812") == "'+62 812"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("biasa") == "biasa"
    assert safe_cell(3.5) == 3.5
    assert safe_cell(None) == ""


def test_attachment_disposition() -> None:
    header = attachment_disposition('Berita Acara "TKT-1"\r\nX: y.pdf')
    assert "\r" not in header and "\n" not in header
    assert header.startswith('attachment; filename="Berita_Acara_TKT-1_X_y.pdf"')
    assert "filename*=UTF-8''Berita%20Acara" in header
