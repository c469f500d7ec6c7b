"""The reports as downloads: CSV parsed back and compared with the JSON figures, PDFs read
back with pypdf. Tickets go through the real broker into a read model of this module's own
(its own schema and queue prefix), in November 2026.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pypdf import PdfReader

from helpdesk_common.contracts.identity import OrganisationUpdated
from helpdesk_common.directory import upsert_organisation

from .conftest import Reports, running_reports, snapshot

JAKARTA = ZoneInfo("Asia/Jakarta")
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}
# Non-ASCII on purpose: the CSV and the PDF must keep it intact.
UNIT_NAME = "Badan Perencanaan Pembangunan Daerah (Bappéda) \u2013 Bidang Ekonomi"
OTHER_UNIT_NAME = "Kecamatan Sukamaju"
CATEGORY_NAME = "Jaringan & Internet"
AGENT_NAME = "Siti Rahayu"
ORGANISATION = "Dinas Komunikasi dan Informatika"
RESOLVED = 230  # more than one page of the JSON list (200) and of the CSV (page size 100)
MAX_PDF_ROWS = 50


@dataclass(frozen=True)
class World:
    unit: uuid.UUID
    other_unit: uuid.UUID
    category: uuid.UUID
    agent: uuid.UUID


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=JAKARTA).astimezone(UTC)


@pytest.fixture(scope="module")
async def reports(
    make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[Reports]:
    async with running_reports(
        make_settings,
        make_token,
        name="reports_exports",
        csv_page_size=100,
        pdf_completed_max_rows=MAX_PDF_ROWS,
    ) as started:
        yield started


@pytest.fixture(scope="module")
async def world(reports: Reports) -> World:
    unit = await reports.unit(UNIT_NAME)
    other_unit = await reports.unit(OTHER_UNIT_NAME)
    agent = await reports.agent(AGENT_NAME)
    category = uuid.uuid4()
    for i in range(RESOLVED):
        created = local(1 + i % 28, 8 + i % 6, i % 60)
        await reports.ticket(
            snapshot(
                unit_id=unit,
                unit_name=UNIT_NAME,
                category_id=category,
                category_name=CATEGORY_NAME,
                priority=("low", "medium", "high", "critical")[i % 4],
                assignee_id=agent,
                assignee_name=AGENT_NAME,
                title=f"Jaringan putus di ruang {i}",
                status="resolved",
                created_at=created,
                first_response_at=created + timedelta(minutes=20 + i % 40),
                first_response_seconds=(20 + i % 40) * 60,
                first_response_due_at=created + timedelta(hours=1),
                resolved_at=created + timedelta(hours=2 + i % 5),
                resolution_seconds=(2 + i % 5) * 3600,
                resolution_due_at=created + timedelta(hours=5),
                result_summary=f"Kabel diganti ({i})",
                version=3,
            )
        )
    for i in range(3):  # open tickets of another unit
        await reports.ticket(
            snapshot(unit_id=other_unit, unit_name=OTHER_UNIT_NAME, created_at=local(10 + i, 9))
        )
    await reports.processed()
    async with reports.app.state.runtime.sessionmaker() as session, session.begin():
        await upsert_organisation(
            session,
            snapshot=OrganisationUpdated(
                name=ORGANISATION,
                parent_name="Pemerintah Kabupaten Contoh",
                address="Jl. Merdeka No. 1, Contoh",
                phone="(0274) 123456",
                revision=1,
                updated_at=datetime.now(UTC),
            ),
        )
    return World(unit=unit, other_unit=other_unit, category=category, agent=agent)


async def download(
    reports: Reports, path: str, role: str = "leader", *, token_args: Any = None, **params: Any
) -> httpx.Response:
    headers = reports.headers(role, **(token_args or {}))
    response = await reports.client.get(
        f"/export/{path}", params={k: str(v) for k, v in params.items()}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


def parse_csv(response: httpx.Response) -> list[list[str]]:
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def pdf_text(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == "application/pdf"
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages]


def number(cell: str) -> float | None:
    return float(cell) if cell else None


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


async def test_summary_csv_equals_the_json_figures(reports: Reports, world: World) -> None:
    params: dict[str, Any] = {**NOVEMBER, "unit_id": world.unit}
    response = await download(reports, "summary.csv", **params)
    assert "laporan-ringkasan-2026-11-01_2026-11-30.csv" in response.headers["content-disposition"]
    header, *rows = parse_csv(response)
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    figures = await reports.get("/summary", **params)
    f = figures["figures"]
    assert row["Awal periode"] == "2026-11-01" and row["Akhir periode"] == "2026-11-30"
    assert int(row["Dibuat"]) == f["created"] == RESOLVED
    assert int(row["Diselesaikan"]) == f["resolved"]
    assert int(row["Terbuka saat ini"]) == figures["open_now"] == 0
    assert int(row["Status Selesai"]) == f["by_status"]["resolved"]
    assert number(row["Respons pertama: rata-rata (menit)"]) == minutes(
        f["first_response"]["mean_seconds"]
    )
    assert number(row["Penyelesaian: median (menit)"]) == minutes(f["resolution"]["median_seconds"])
    assert number(row["Penyelesaian: p90 (menit)"]) == minutes(f["resolution"]["p90_seconds"])
    assert (
        number(row["SLA penyelesaian: kepatuhan (%)"])
        == (f["sla_resolution"]["compliance_percent"])
    )
    assert int(row["SLA respons pertama: terpenuhi"]) == f["sla_first_response"]["met"]
    assert number(row["Tingkat penolakan (%)"]) == f["rejection_rate_percent"]


async def test_trend_and_breakdown_csv(reports: Reports, world: World) -> None:
    trend = await reports.get("/trend", **NOVEMBER, group_by="week")
    header, *rows = parse_csv(await download(reports, "trend.csv", **NOVEMBER, group_by="week"))
    assert header[0] == "Awal periode" and header[-1] == "Tunggakan akhir periode"
    assert [r[0] for r in rows] == [p["period_start"] for p in trend["points"]]
    created = header.index("Dibuat")
    assert [int(r[created]) for r in rows] == [p["created"] for p in trend["points"]]
    assert [int(r[-1]) for r in rows] == [p["backlog_end"] for p in trend["points"]]

    # No group_by: a month is grouped by day.
    _, *days = parse_csv(await download(reports, "trend.csv", **NOVEMBER))
    assert len(days) == 30

    breakdown = await reports.get("/breakdown", **NOVEMBER, by="unit")
    header, *rows = parse_csv(await download(reports, "breakdown.csv", **NOVEMBER, by="unit"))
    assert header[:3] == ["ID", "SKPD", "Dibuat"]
    by_key = {r[0]: r for r in rows}
    assert by_key[str(world.unit)][1] == UNIT_NAME  # non-ASCII intact
    assert by_key[str(world.other_unit)][1] == OTHER_UNIT_NAME
    for item in breakdown["rows"]:
        assert int(by_key[item["key"]][2]) == item["created"]
    median = header.index("Penyelesaian: median (menit)")
    unit_row = next(i for i in breakdown["rows"] if i["key"] == str(world.unit))
    assert number(by_key[str(world.unit)][median]) == minutes(
        unit_row["resolution"]["median_seconds"]
    )


async def test_completed_csv_streams_every_ticket(reports: Reports, world: World) -> None:
    page = await reports.get("/completed", **NOVEMBER, unit_id=world.unit, limit=10)
    response = await download(reports, "completed.csv", **NOVEMBER, unit_id=world.unit)
    header, *rows = parse_csv(response)
    assert header[:3] == ["Nomor", "Judul", "Status"]
    assert len(rows) == page["count"] == RESOLVED
    assert len({r[0] for r in rows}) == RESOLVED  # pages neither overlap nor skip
    assert [r[0] for r in rows[:10]] == [item["number"] for item in page["items"]]
    first = dict(zip(header, rows[0], strict=True))
    assert first["SKPD"] == UNIT_NAME and first["Petugas"] == AGENT_NAME
    assert first["Kategori"] == CATEGORY_NAME and first["Status"] == "Selesai"
    assert first["Ringkasan hasil"].startswith("Kabel diganti")
    assert float(first["Waktu penyelesaian (menit)"]) % 60 == 0

    english = parse_csv(await download(reports, "completed.csv", **NOVEMBER, lang="en"))
    assert english[0][:3] == ["Number", "Title", "Status"]
    assert "Resolved at" in english[0]
    assert len(english) == RESOLVED + 1


async def test_a_requester_gets_their_own_unit_only(reports: Reports, world: World) -> None:
    own = {"token_args": {"unit_id": world.other_unit}}
    header, row = parse_csv(await download(reports, "summary.csv", "requester", **own, **NOVEMBER))
    assert int(dict(zip(header, row, strict=True))["Dibuat"]) == 3
    _, *units = parse_csv(
        await download(reports, "breakdown.csv", "requester", **own, **NOVEMBER, by="unit")
    )
    assert [u[0] for u in units] == [str(world.other_unit)]
    _, *done = parse_csv(await download(reports, "completed.csv", "requester", **own, **NOVEMBER))
    assert done == []
    pdf = await download(reports, "full.pdf", "requester", **own, **NOVEMBER)
    assert UNIT_NAME not in "".join(pdf_text(pdf))
    for path in ("summary.csv", "completed.csv", "full.pdf"):
        refused = await reports.client.get(
            f"/export/{path}",
            params={**NOVEMBER, "unit_id": str(world.unit)},
            headers=reports.headers("requester", unit_id=world.other_unit),
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "unit_forbidden"


async def test_summary_pdf(reports: Reports, world: World) -> None:
    params = {
        **NOVEMBER,
        "unit_id": world.unit,
        "category_id": world.category,
        "agent_id": world.agent,
        "priority": "high",
        "channel": "web",
    }
    response = await reports.client.get(
        "/export/summary.pdf",
        params={k: str(v) for k, v in params.items()},
        headers=reports.headers("leader", name="Budi Santoso"),
    )
    assert response.status_code == 200, response.text
    assert "laporan-ringkasan-2026-11-01_2026-11-30.pdf" in response.headers["content-disposition"]
    pages = pdf_text(response)
    text = " ".join(" ".join(pages).split())
    assert "LAPORAN RINGKASAN KINERJA LAYANAN" in text
    assert "Periode 1 November 2026 s.d. 30 November 2026" in text
    assert ORGANISATION in text and "PEMERINTAH KABUPATEN CONTOH" in text
    for name in (UNIT_NAME, CATEGORY_NAME, AGENT_NAME, "Tinggi", "Web"):
        assert name in text, name
    assert "Halaman 1 dari" in text and "oleh Budi Santoso" in text
    assert "Waktu layanan" in text and "Kepatuhan SLA" in text

    english = await download(reports, "summary.pdf", **NOVEMBER, lang="en")
    text = " ".join(" ".join(pdf_text(english)).split())
    assert "SERVICE PERFORMANCE SUMMARY" in text and "Page 1 of" in text
    assert "report-summary-2026-11-01_2026-11-30.pdf" in english.headers["content-disposition"]


async def test_trend_breakdown_and_completed_pdfs(reports: Reports, world: World) -> None:
    trend = " ".join(pdf_text(await download(reports, "trend.pdf", **NOVEMBER, group_by="week")))
    trend = " ".join(trend.split())
    assert "LAPORAN TREN TIKET" in trend and "Minggu 26 Oktober 2026" in trend

    breakdown = await download(reports, "breakdown.pdf", **NOVEMBER, by="unit")
    assert "laporan-rincian-skpd-" in breakdown.headers["content-disposition"]
    text = " ".join(" ".join(pdf_text(breakdown)).split())
    assert "LAPORAN RINCIAN TIKET PER SKPD" in text and OTHER_UNIT_NAME in text
    assert "Bappéda" in text

    completed = pdf_text(await download(reports, "completed.pdf", **NOVEMBER))
    text = " ".join(" ".join(completed).split())
    assert "LAPORAN REKAP PEKERJAAN SELESAI" in text
    assert f"Menampilkan {MAX_PDF_ROWS} pertama dari {RESOLVED} tiket" in text
    assert "Jaringan putus di ruang" in text
    assert f"Halaman {len(completed)} dari {len(completed)}" in text


async def test_full_pdf_has_every_section(reports: Reports, world: World) -> None:
    response = await download(reports, "full.pdf", **NOVEMBER)
    assert "laporan-lengkap-2026-11-01_2026-11-30.pdf" in response.headers["content-disposition"]
    pages = pdf_text(response)
    text = " ".join(" ".join(pages).split())
    for heading in (
        "LAPORAN KINERJA LAYANAN HELPDESK",
        "1. Ringkasan",
        "2. Tren",
        "3. Rincian per SKPD",
        "4. Rincian per Kategori",
        "5. Rincian per Prioritas",
        "6. Rincian per Petugas",
        "7. Pekerjaan Selesai",
        "Dikelompokkan harian",
        "Menampilkan 200 pertama dari 230 tiket",
    ):
        assert heading in text, heading
    assert ORGANISATION in pages[0] and "Halaman 1 dari" in pages[0]
    weekly = await download(reports, "full.pdf", **NOVEMBER, group_by="week")
    assert "Dikelompokkan mingguan" in " ".join(pdf_text(weekly))
    assert "Bappéda" in text and AGENT_NAME in text and CATEGORY_NAME in text


async def test_empty_and_long_periods(reports: Reports, world: World) -> None:
    empty = await download(reports, "full.pdf", **{"from": "2025-01-01", "to": "2025-01-31"})
    text = " ".join(" ".join(pdf_text(empty)).split())
    assert "Tidak ada data pada periode ini." in text and "7. Pekerjaan Selesai" in text
    # Three years: the full report's trend is monthly, the trend CSV too.
    years = {"from": "2024-01-01", "to": "2026-12-31"}
    text = " ".join(" ".join(pdf_text(await download(reports, "full.pdf", **years))).split())
    assert "Dikelompokkan bulanan" in text and "November 2026" in text
    _, *months = parse_csv(await download(reports, "trend.csv", **years))
    assert len(months) == 36


async def test_bad_input_is_a_4xx_with_the_error_shape(reports: Reports, world: World) -> None:
    cases = [
        ("nothing.csv", {}, 404, "unknown_report"),
        ("nothing.pdf", {}, 404, "unknown_report"),
        ("full.csv", {}, 404, "no_csv"),
        ("summary.pdf", {"from": "2026-11-10", "to": "2026-11-01"}, 422, "invalid_period"),
        ("summary.csv", {"from": "2026-11-10", "to": "2026-11-01"}, 422, "invalid_period"),
        ("breakdown.csv", {"by": "colour"}, 422, "validation_error"),
        ("trend.pdf", {"group_by": "fortnight"}, 422, "validation_error"),
        ("summary.pdf", {"lang": "fr"}, 422, "validation_error"),
        ("summary.csv", {"unit_id": str(uuid.uuid4())}, 422, "unknown_unit"),
    ]
    for path, params, status, code in cases:
        response = await reports.client.get(
            f"/export/{path}", params=params, headers=reports.headers("leader")
        )
        assert response.status_code == status, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == code, (path, error)
        assert error["message"]
    unauthenticated = await reports.client.get("/export/summary.csv")
    assert unauthenticated.status_code == 401
