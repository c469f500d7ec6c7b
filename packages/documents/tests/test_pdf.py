"""The shared frame renders: letterhead, title, Indonesian text, page numbers, charts."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from helpdesk_documents import DocumentMeta, Organisation, render_pdf, render_pdf_sync
from helpdesk_documents.charts import bar_chart, line_chart
from helpdesk_documents.pdf import RenderError

BODY = """
#fields(((L.number, data.number), (L.title_label, data.title)))
#data-table(data.header, data.rows, numeric: (1,))
#chart("trend", width: 100%)
#signatures(((L.agent, data.agent), (L.unit, none)))
"""


def _png() -> bytes:
    """A 2 by 2 PNG, made by hand so the test needs no imaging library."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        raw = kind + body
        return struct.pack(">I", len(body)) + raw + struct.pack(">I", zlib.crc32(raw))

    pixels = zlib.compress(b"\x00\xff\x00\x00\x00\x00\xff\x00" * 2)
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _meta(**changes: object) -> DocumentMeta:
    values: dict[str, object] = {
        "title": "Laporan Uji",
        "subtitle": "Periode 1-31 Desember 2026",
        "organisation": Organisation(
            name="Dinas Komunikasi dan Informatika",
            parent_name="Pemerintah Kota Contoh",
            address="Jl. Merdeka No. 1",
            phone="(0274) 123456",
            logo=_png(),
            logo_media_type="image/png",
        ),
        "generated_at": datetime(2026, 12, 4, 11, 20, 5, 123456, tzinfo=UTC),
        "generated_by": "Siti Rahayu",
    }
    values.update(changes)
    return DocumentMeta.model_validate(values)


def _data(rows: int) -> dict[str, object]:
    return {
        "number": "TKT-2026-000042",
        "title": "Printer #1 [lantai 2] = rusak *penting* $x$ @dinas",
        "agent": "Budi Santoso",
        "header": ["SKPD", "Jumlah"],
        "rows": [[f"Dinas Pekerjaan Umum dan Penataan Ruang {i}", str(i)] for i in range(rows)],
    }


LABELS = {"number": "Nomor", "title_label": "Judul", "agent": "Petugas", "unit": "SKPD"}


def test_frame_letterhead_page_numbers_and_markup_printed_as_typed() -> None:
    chart = line_chart(["1 Des", "2 Des", "3 Des"], {"Dibuat": [3, 5, 2], "Selesai": [1, 4, None]})
    pdf = render_pdf_sync(
        BODY, meta=_meta(), data=_data(120), labels=LABELS, charts={"trend": chart}
    )
    pages = _text(pdf)
    assert len(pages) >= 3
    first = pages[0]
    assert "PEMERINTAH KOTA CONTOH" in first
    assert "Dinas Komunikasi dan Informatika" in first
    assert "LAPORAN UJI" in first
    # Markup characters in the data are text, not typst syntax.
    assert "Printer #1 [lantai 2] = rusak *penting* $x$ @dinas" in first
    assert "Halaman 1 dari" in first and f"dari {len(pages)}" in pages[-1]
    assert "Dibuat 4 Desember 2026 18.20 WIB oleh Siti Rahayu" in first
    assert "Budi Santoso" in pages[-1]
    assert "Dinas Pekerjaan Umum dan Penataan Ruang 119" in "".join(pages)


def test_english_and_no_logo() -> None:
    pdf = render_pdf_sync(
        "#data.title",
        meta=_meta(language="en", organisation=Organisation(name="IT Office")),
        data={"title": "Hello"},
    )
    (page,) = _text(pdf)
    assert "IT Office" in page and "Page 1 of 1" in page and "Generated 4 December 2026" in page


def test_bar_chart_svg_is_embedded() -> None:
    svg = bar_chart([f"Unit {i}" for i in range(30)], [float(i) for i in range(30)])
    assert svg.lstrip().startswith("<?xml") and "Unit 29" in svg and "Unit 10" not in svg
    pdf = render_pdf_sync('#chart("bars")', meta=_meta(), data={}, charts={"bars": svg})
    assert "Unit 29" in _text(pdf)[0]


def test_a_broken_template_is_a_render_error() -> None:
    with pytest.raises(RenderError):
        render_pdf_sync("#nonexistent-function()", meta=_meta(), data={})


async def test_async_rendering_in_a_thread() -> None:
    pdf = await render_pdf("#data.title", meta=_meta(), data={"title": "Async"})
    assert pdf.startswith(b"%PDF") and "Async" in _text(pdf)[0]
