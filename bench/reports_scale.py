"""Scale of the reports service: a million tickets, the rebuild, live events, the figures.

    uv run python bench/reports_scale.py [--tickets 1000000] [--events 200000]

Starts the whole system (deploy/local/up.py --port-offset 300 --no-s3, with a database, queue
names and state directory of its own), then, all on this machine:
1. seed: 40 units, 30 agents, a requester per unit and a leader through identity's API, nine
   categories beyond the default six through the tickets API; then N tickets over two years
   (office time zone Asia/Jakarta) straight into the tickets service's own table with COPY
   (the system of record). Office hours, holidays, priorities and SLA targets are read from
   the tickets service's tables, so due dates, breaches and working seconds follow its rules.
   The read model is never written by SQL;
2. rebuild: POST /api/reports/rebuild as the administrator through the gateway (the reports
   service pages through the tickets service's GET /internal/ticket-snapshots and projects
   each page), polling GET /api/reports/rebuild until it switches over;
3. live: a burst of ticket.* events (helpdesk_common.contracts payloads: lifecycles of the
   open and resolved seeded tickets with higher versions, then of new tickets, round-robin
   over the tickets as the tickets service would publish them), published into the reports
   consumer's queue, timed until its inbox holds every one of them;
4. queries: every report endpoint through the gateway as a leader, one request at a time,
   over periods from a day to two years (whole months and unaligned) and filters (none,
   unit, unit + category, agent, priority, channel): p50/p95/p99 per endpoint, overall and
   per rollup that answered ("source"); then a dashboard's calls all at once;
and prints a JSON summary, saved under bench/results/. Target: p95 < 100 ms per endpoint.

--events-route exchange publishes the burst to the system's topic exchange instead: every
ticket.* consumer gets it, and the notifications service then mails tens of recipients per
event on the same cores (meant for small bursts only).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aio_pika
import aiohttp
import asyncpg
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_ENV, ROOT, Api, CpuMeter, login, percentiles, reference_loop_seconds, save

from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.tickets import (
    Actor,
    TicketAssigned,
    TicketClosed,
    TicketCreated,
    TicketEscalated,
    TicketReopened,
    TicketResolved,
    TicketSlaBreached,
    TicketSnapshot,
    TicketStatusChanged,
)
from helpdesk_testing import PG_ADMIN_DSN, local_system
from reports.settings import ReportsSettings

# The rebuild's page (the service's default: the benchmark measures it as configured).
PAGE_SIZE = ReportsSettings.model_fields["rebuild_page_size"].default

PORT_OFFSET = 300
OFFICE_TZ = ZoneInfo("Asia/Jakarta")
DAYS = 730  # two years, today included
DAY = 86400

SYSTEM_ENV = {
    **BENCH_ENV,
    "REPORTS_LOG_LEVEL": "WARNING",
    # The run is longer than an access token lives (15 min by default).
    "IDENTITY_ACCESS_TOKEN_TTL_SECONDS": str(12 * 3600),
}

UNITS = (
    "Dinas Pendidikan", "Dinas Kesehatan", "Dinas Pekerjaan Umum dan Penataan Ruang",
    "Dinas Perumahan dan Kawasan Permukiman", "Satuan Polisi Pamong Praja", "Dinas Sosial",
    "Dinas Tenaga Kerja", "Dinas Lingkungan Hidup", "Dinas Kependudukan dan Pencatatan Sipil",
    "Dinas Pemberdayaan Perempuan dan Perlindungan Anak", "Dinas Perhubungan",
    "Dinas Komunikasi dan Informatika", "Dinas Koperasi dan Usaha Mikro",
    "Dinas Penanaman Modal dan PTSP", "Dinas Kepemudaan dan Olahraga",
    "Dinas Kebudayaan dan Pariwisata", "Dinas Perpustakaan dan Kearsipan",
    "Dinas Ketahanan Pangan dan Pertanian", "Dinas Perdagangan dan Perindustrian",
    "Dinas Pemadam Kebakaran", "Badan Perencanaan Pembangunan Daerah",
    "Badan Pengelolaan Keuangan dan Aset Daerah", "Badan Pendapatan Daerah",
    "Badan Kepegawaian dan Pengembangan SDM", "Badan Penanggulangan Bencana Daerah",
    "Badan Kesatuan Bangsa dan Politik", "Inspektorat", "Sekretariat Daerah",
    "Sekretariat DPRD", "RSUD Kota", "Kecamatan Utara", "Kecamatan Selatan",
    "Kecamatan Timur", "Kecamatan Barat", "Kecamatan Tengah", "Kecamatan Pesisir",
    "Bagian Hukum", "Bagian Organisasi", "Bagian Pengadaan Barang dan Jasa",
    "Bagian Protokol dan Komunikasi Pimpinan",
)  # fmt: skip
AGENTS = (
    "Andi Pratama", "Budi Santoso", "Citra Lestari", "Dewi Anggraini", "Eko Saputra",
    "Fajar Nugroho", "Gita Permata", "Hendra Wijaya", "Indah Sari", "Joko Susilo",
    "Kartika Putri", "Lukman Hakim", "Maya Kusuma", "Nanda Rizki", "Oki Firmansyah",
    "Putri Ayu", "Rina Marlina", "Slamet Riyadi", "Tono Hartono", "Utami Dewi",
    "Vina Oktaviani", "Wahyu Hidayat", "Yoga Prasetyo", "Zainal Arifin", "Agus Setiawan",
    "Bayu Aji", "Dian Puspita", "Fitri Handayani", "Galih Ramadhan", "Hana Safitri",
)  # fmt: skip
# Beyond the six categories the tickets service starts with: fifteen in all.
NEW_CATEGORIES = (
    ("Printer & Pemindai", "Printer, scanner dan mesin fotokopi", "normal"),
    ("Keamanan Informasi", "Virus, phishing dan insiden keamanan", "high"),
    ("Server & Hosting", "Server, pusat data dan hosting aplikasi", "high"),
    ("Rapat Daring", "Video conference dan ruang rapat", "normal"),
    ("Tanda Tangan Elektronik", "Sertifikat elektronik dan TTE", "normal"),
    ("Data & Statistik", "Permintaan data dan integrasi", "low"),
    ("Telepon & Radio", "Telepon kantor, PABX dan HT", "low"),
    ("CCTV", "Kamera pengawas dan rekamannya", "normal"),
    ("Pelatihan TIK", "Pendampingan dan pelatihan aplikasi", "low"),
)
# (titles, relative volume) per category name.
CATEGORY_MIX: dict[str, tuple[tuple[str, ...], float]] = {
    "Jaringan & Internet": (
        ("Internet lantai {n} mati", "Wi-Fi ruang rapat tidak bisa terhubung",
         "Koneksi VPN ke kantor pusat putus", "Jaringan LAN lambat sejak pagi"),
        20,
    ),
    "Perangkat Keras": (
        ("Komputer tidak mau menyala", "Laptop dinas sangat lambat", "Monitor berkedip",
         "Keyboard dan mouse tidak terdeteksi"),
        15,
    ),
    "Aplikasi": (
        ("Aplikasi kepegawaian error saat login", "Tidak bisa mengunggah dokumen ke e-office",
         "Laporan di aplikasi keuangan tidak muncul", "Instalasi aplikasi perkantoran"),
        14,
    ),
    "Email & Akun": (
        ("Lupa kata sandi email dinas", "Akun terkunci setelah salah kata sandi",
         "Pembuatan email untuk pegawai baru", "Kotak masuk email penuh"),
        12,
    ),
    "Website": (
        ("Website dinas tidak bisa diakses", "Pembaruan konten berita di website",
         "Sertifikat SSL subdomain kedaluwarsa"),
        6,
    ),
    "Lainnya": (
        ("Permintaan peminjaman proyektor", "Konsultasi kebutuhan TIK", "Permintaan lain-lain"),
        5,
    ),
    "Printer & Pemindai": (
        ("Printer lantai {n} tidak bisa mencetak", "Scanner tidak terbaca di komputer",
         "Kertas sering macet di printer"),
        9,
    ),
    "Keamanan Informasi": (
        ("Komputer terkena virus", "Email phishing diterima pegawai",
         "Akun media sosial dinas diretas"),
        3,
    ),
    "Server & Hosting": (
        ("Server aplikasi tidak merespons", "Permintaan ruang hosting baru",
         "Database aplikasi penuh"),
        3,
    ),
    "Rapat Daring": (
        ("Persiapan rapat daring dengan pimpinan", "Suara tidak terdengar saat rapat daring",
         "Permintaan akun rapat daring"),
        4,
    ),
    "Tanda Tangan Elektronik": (
        ("Sertifikat TTE kedaluwarsa", "Gagal membubuhkan TTE pada dokumen",
         "Pendaftaran TTE pejabat baru"),
        3,
    ),
    "Data & Statistik": (
        ("Permintaan data statistik sektoral", "Integrasi data dengan Satu Data",
         "Perbaikan data pada dasbor"),
        2,
    ),
    "Telepon & Radio": (("Telepon ekstensi {n} mati", "Radio HT tidak bisa dipakai"), 2),
    "CCTV": (("CCTV pintu masuk mati", "Permintaan rekaman CCTV"), 1),
    "Pelatihan TIK": (
        ("Pelatihan aplikasi untuk staf baru", "Pendampingan penggunaan e-office"),
        1,
    ),
}  # fmt: skip
RESULTS = (
    "Kabel jaringan diganti, koneksi normal kembali.",
    "Driver dipasang ulang, perangkat berfungsi.",
    "Kata sandi diatur ulang dan akun dibuka kembali.",
    "Konfigurasi diperbaiki, layanan kembali normal.",
    "Perangkat diganti sementara dengan unit cadangan.",
    "Aplikasi diperbarui ke versi terbaru.",
    "Permintaan dipenuhi sesuai kebutuhan unit.",
)
PENDING_REASONS = ("Menunggu suku cadang", "Menunggu konfirmasi pemohon", "Menunggu vendor")
REJECT_REASONS = ("Bukan kewenangan TIK", "Duplikat tiket lain", "Data permintaan tidak lengkap")
CHANNELS = (("web", 70.0), ("email", 20.0), ("phone", 10.0))
PRIORITY_MIX = {"low": 20.0, "normal": 50.0, "high": 25.0, "critical": 5.0}
# Tickets created per local hour (office hours 07:30-16:00, a few at night from the web).
HOUR_WEIGHTS = (0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 3, 8, 10, 9, 8, 5, 7, 8, 6, 3, 1.5, 1, 0.8,
                0.6, 0.5, 0.4, 0.3)  # fmt: skip
WEEKDAY_WEIGHTS = (1.15, 1.1, 1.05, 1.0, 0.85, 0.12, 0.06)
# Working times are log-normal around this share of the SLA target (about 10 % breach it).
TYPICAL_SHARE, SIGMA = 0.35, 0.85
OPEN = ("new", "in_progress", "pending")

COLUMNS = (
    "id", "number", "title", "description", "category_id", "priority", "priority_source",
    "unit_id", "requester_id", "requester_name", "created_by_id", "created_by_name",
    "created_by_role", "contact_name", "contact_phone", "contact_email", "channel", "status",
    "status_reason", "assignee_id", "assignee_name", "result_summary", "reopen_count", "version",
    "created_at", "updated_at", "first_response_at", "resolved_at", "closed_at",
    "first_response_seconds", "resolution_seconds", "sla_first_response_minutes",
    "sla_resolution_minutes", "first_response_warn_at", "first_response_due_at",
    "first_response_escalate_at", "resolution_warn_at", "resolution_due_at",
    "resolution_escalate_at", "first_response_warned_at", "first_response_breached_at",
    "first_response_escalated_at", "resolution_warned_at", "resolution_breached_at",
    "resolution_escalated_at", "escalation_level", "sla_paused_since", "sla_paused_seconds",
    "sla_next_check_at",
)  # fmt: skip


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the world: units, people, master data and the office calendar ------------------------


@dataclass(frozen=True)
class Unit:
    id: uuid.UUID
    name: str
    requester_id: uuid.UUID
    requester_name: str
    requester_email: str


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class Category:
    id: uuid.UUID
    name: str
    default_priority: str | None


@dataclass(frozen=True)
class Priority:
    code: str
    name: str
    is_default: bool
    first_response_minutes: int
    resolution_minutes: int


class WorkCalendar:
    """The tickets service's working time (office hours, holidays, one zone) on integer
    epoch seconds: the same rules as its SLA clock, a few microseconds per look-up."""

    def __init__(
        self,
        *,
        first: date,
        last: date,
        timezone: ZoneInfo,
        windows: dict[int, list[tuple[Any, Any]]],
        holidays: set[date],
    ) -> None:
        def midnight(day: date) -> datetime:
            return datetime(day.year, day.month, day.day, tzinfo=timezone)

        # Day boundaries by arithmetic: the zone must not change its offset (Jakarta's never).
        if midnight(first).utcoffset() != midnight(last).utcoffset():
            raise ValueError(f"{timezone} changes its UTC offset; not supported here")
        self.day0 = int(midnight(first).timestamp())
        self.spans: list[tuple[tuple[int, int], ...]] = []
        self.cum = [0]  # working seconds before each day
        day = first
        while day <= last:
            spans: list[tuple[int, int]] = []
            if day not in holidays:
                for start, end in sorted(windows.get(day.weekday(), [])):
                    base = midnight(day)
                    spans.append(
                        (
                            int(base.replace(hour=start.hour, minute=start.minute).timestamp()),
                            int(base.replace(hour=end.hour, minute=end.minute).timestamp()),
                        )
                    )
            self.spans.append(tuple(spans))
            self.cum.append(self.cum[-1] + sum(e - s for s, e in spans))
            day += timedelta(days=1)

    def work_at(self, t: int) -> int:
        """Working seconds from the calendar's first day to the instant ``t``."""
        d = (t - self.day0) // DAY
        w = self.cum[d]
        for s, e in self.spans[d]:
            if t <= s:
                break
            if t >= e:
                w += e - s
            else:
                w += t - s
                break
        return w

    def wall_at(self, w: int) -> int:
        """The instant at which ``w`` working seconds have passed (inverse of work_at)."""
        d = bisect.bisect_right(self.cum, w) - 1
        r = w - self.cum[d]
        for s, e in self.spans[d]:
            if r < e - s:
                return s + r
            r -= e - s
        raise AssertionError("beyond the calendar")  # pragma: no cover


@dataclass
class World:
    units: list[Unit]
    agents: list[Person]
    categories: list[Category]
    priorities: dict[str, Priority]
    calendar: WorkCalendar
    today: date
    admin_token: str
    leader_token: str


async def create_people_and_master_data(
    api: Api, admin_password: str
) -> tuple[str, str, list[Unit], list[Person]]:
    """Units, agents, requesters and a leader through identity's API; the categories beyond
    the default six through the tickets API. Returns the admin's and the leader's tokens."""
    admin = await login(api, "admin", admin_password)
    tag = uuid.uuid4().hex[:4]
    password = "bench-password-1"
    limit = asyncio.Semaphore(8)

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with limit:
            result: dict[str, Any] = await api.ok("POST", path, token=admin, body=body)
            return result

    created_units = await asyncio.gather(
        *(
            post(
                "/api/identity/units",
                {
                    "code": f"SKPD{i:02d}{tag}".upper(),
                    "name": name,
                    "contact_name": f"Operator {name}",
                    "contact_email": f"skpd{i:02d}-{tag}@example.go.id",
                },
            )
            for i, name in enumerate(UNITS, 1)
        )
    )
    agents = await asyncio.gather(
        *(
            post(
                "/api/identity/users",
                {
                    "username": f"agen{i:02d}{tag}",
                    "full_name": name,
                    "email": f"agen{i:02d}-{tag}@example.go.id",
                    "role": "agent",
                    "password": password,
                },
            )
            for i, name in enumerate(AGENTS, 1)
        )
    )
    requesters = await asyncio.gather(
        *(
            post(
                "/api/identity/users",
                {
                    "username": f"pemohon{i:02d}{tag}",
                    "full_name": f"Staf {unit['name']}",
                    "email": f"pemohon{i:02d}-{tag}@example.go.id",
                    "role": "requester",
                    "unit_id": unit["id"],
                    "password": password,
                },
            )
            for i, unit in enumerate(created_units, 1)
        )
    )
    await post(
        "/api/identity/users",
        {
            "username": f"pimpinan{tag}",
            "full_name": "Kepala Dinas Kominfo",
            "email": f"pimpinan-{tag}@example.go.id",
            "role": "leader",
            "password": password,
        },
    )
    for name, description, priority in NEW_CATEGORIES:
        await post(
            "/api/tickets/categories",
            {"name": name, "description": description, "default_priority": priority},
        )
    leader = await login(api, f"pimpinan{tag}", password)
    units = [
        Unit(
            id=uuid.UUID(unit["id"]),
            name=unit["name"],
            requester_id=uuid.UUID(requester["id"]),
            requester_name=requester["full_name"],
            requester_email=requester["email"],
        )
        for unit, requester in zip(created_units, requesters, strict=True)
    ]
    people = [Person(uuid.UUID(agent["id"]), agent["full_name"]) for agent in agents]
    return admin, leader, units, people


async def wait_for_directories(connection: asyncpg.Connection, *, units: int, agents: int) -> None:
    """Until the tickets and reports services' directory replicas have every unit and agent
    (they learn them from identity's events)."""
    deadline = time.monotonic() + 120
    while True:
        counts = [
            await connection.fetchval(f"SELECT count(*) FROM {schema}.{sql}")
            for schema in ("tickets", "reports")
            for sql in ("units", "users WHERE role = 'agent'")
        ]
        if counts[0] >= units and counts[2] >= units and min(counts[1], counts[3]) >= agents:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"directories incomplete after 120 s: {counts}")
        await asyncio.sleep(0.5)


async def load_world(
    connection: asyncpg.Connection,
    *,
    admin: str,
    leader: str,
    units: list[Unit],
    agents: list[Person],
) -> World:
    """Master data and the office calendar as the tickets service keeps them."""
    categories = [
        Category(row["id"], row["name"], row["default_priority"])
        for row in await connection.fetch(
            "SELECT id, name, default_priority FROM tickets.categories WHERE is_active"
            " ORDER BY name"
        )
    ]
    priorities = {
        row["code"]: Priority(
            row["code"],
            row["name"],
            row["is_default"],
            row["first_response_minutes"],
            row["resolution_minutes"],
        )
        for row in await connection.fetch(
            "SELECT p.code, p.name, p.is_default, s.first_response_minutes,"
            " s.resolution_minutes FROM tickets.priorities p"
            " JOIN tickets.sla_policies s ON s.priority = p.code WHERE p.is_active"
        )
    }
    windows: dict[int, list[tuple[Any, Any]]] = {}
    for row in await connection.fetch(
        "SELECT weekday, start_time, end_time FROM tickets.office_hours"
    ):
        windows.setdefault(row["weekday"], []).append((row["start_time"], row["end_time"]))
    holidays = {row["day"] for row in await connection.fetch("SELECT day FROM tickets.holidays")}
    today = datetime.now(OFFICE_TZ).date()
    calendar = WorkCalendar(
        first=today - timedelta(days=DAYS + 1),
        last=today + timedelta(days=400),
        timezone=OFFICE_TZ,
        windows=windows,
        holidays=holidays,
    )
    return World(units, agents, categories, priorities, calendar, today, admin, leader)


# -- the tickets ---------------------------------------------------------------------------


def cumulative(weights: Sequence[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _ts(t: int | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


class TicketFactory:
    """Tickets as two years of a city's IT office would leave them: rows of the tickets
    table in creation order, with realistic mixes (see the module docstring of the bench)."""

    def __init__(self, world: World, *, total: int, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.cal = world.calendar
        self.now = int(time.time())
        self.units = world.units
        self.unit_cum = cumulative([1 / (i + 1) ** 0.7 for i in range(len(world.units))])
        self.agents = world.agents
        self.agent_cum = cumulative([0.5 + rng.random() for _ in world.agents])
        self.categories = world.categories
        self.category_cum = cumulative(
            [CATEGORY_MIX.get(c.name, ((), 2.0))[1] for c in world.categories]
        )
        self.priority_codes = [p for p in PRIORITY_MIX if p in world.priorities]
        self.priority_cum = cumulative([PRIORITY_MIX[p] for p in self.priority_codes])
        self.default_priority = next(
            (p.code for p in world.priorities.values() if p.is_default), "normal"
        )
        self.channel_cum = cumulative([w for _, w in CHANNELS])
        self.hour_cum = cumulative(HOUR_WEIGHTS)
        self.log_first = {
            code: math.log(p.first_response_minutes * 60 * TYPICAL_SHARE)
            for code, p in world.priorities.items()
        }
        self.log_resolution = {
            code: math.log(p.resolution_minutes * 60 * TYPICAL_SHARE)
            for code, p in world.priorities.items()
        }
        self.numbers: Counter[int] = Counter()
        self.mix: Counter[str] = Counter()
        self.days = self._plan(total)

    def _plan(self, total: int) -> list[tuple[int, int, int, int]]:
        """(local midnight, tickets that day, year, first instant not allowed) per day: a
        slow growth over the two years, weekdays busier, holidays quiet, today so far."""
        first = self.world.today - timedelta(days=DAYS - 1)
        offset = (first - self.world.today).days + DAYS + 1  # the calendar starts 2 days earlier
        weights = []
        for i in range(DAYS):
            day = first + timedelta(days=i)
            weight = (0.8 + 0.4 * i / DAYS) * WEEKDAY_WEIGHTS[day.weekday()]
            if day.weekday() < 5 and not self.cal.spans[offset + i]:  # a holiday
                weight *= 0.1
            weights.append(weight)
        midnight = int(datetime(first.year, first.month, first.day, tzinfo=OFFICE_TZ).timestamp())
        # Today only so far (by the hours' weights).
        hour_now = (self.now - (midnight + (DAYS - 1) * DAY)) / 3600
        done = sum(w * min(1.0, max(0.0, hour_now - h)) for h, w in enumerate(HOUR_WEIGHTS)) / sum(
            HOUR_WEIGHTS
        )
        weights[-1] *= max(done, 0.01)
        scale = total / sum(weights)
        counts = [math.floor(w * scale) for w in weights]
        by_remainder = sorted(range(DAYS), key=lambda i: counts[i] - weights[i] * scale)
        for i in by_remainder[: total - sum(counts)]:
            counts[i] += 1
        plan = []
        for i, count in enumerate(counts):
            day = first + timedelta(days=i)
            start = midnight + i * DAY
            plan.append((start, count, day.year, min(start + DAY, self.now)))
        return plan

    def rows(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        for start, count, year, limit in self.days:
            times = []
            for hour in rng.choices(range(24), cum_weights=self.hour_cum, k=count):
                t = start + hour * 3600 + int(rng.random() * 3600)
                if t >= limit:  # today: not after now
                    t = start + int(rng.random() * (limit - start))
                times.append(t)
            times.sort()
            for created in times:
                yield self._ticket(created, year)

    def _pick(self, items: Sequence[Any], cum: list[float]) -> Any:
        return items[bisect.bisect(cum, self.rng.random() * cum[-1])]

    def _ticket(self, created: int, year: int) -> tuple[Any, ...]:
        rng, r, cal, now, mix = self.rng, self.rng.random, self.cal, self.now, self.mix
        unit: Unit = self._pick(self.units, self.unit_cum)
        category: Category = self._pick(self.categories, self.category_cum)
        if category.default_priority and r() < 0.6:
            priority, source = category.default_priority, "category"
        else:
            priority = self._pick(self.priority_codes, self.priority_cum)
            source = "default" if priority == self.default_priority else "manual"
            if priority == "critical" and r() < 0.5:
                source = "rule"
        channel = self._pick(CHANNELS, self.channel_cum)[0]
        policy = self.world.priorities[priority]
        fr_target = policy.first_response_minutes * 60
        res_target = policy.resolution_minutes * 60
        w0 = cal.work_at(created)
        fr_s = min(max(60, int(rng.lognormvariate(self.log_first[priority], SIGMA))), 500_000)
        res_s = int(rng.lognormvariate(self.log_resolution[priority], SIGMA))
        res_s = min(max(fr_s + 900, res_s), 2_000_000)
        fate = r()
        rejected, stuck = fate < 0.04, 0.04 <= fate < 0.045
        reopen = 0
        if not rejected and not stuck:
            again = r()
            reopen = 2 if again < 0.01 else 1 if again < 0.06 else 0
            res_s += int(res_s * 0.6 * reopen)  # the rework after each reopen
        paused = min(int(rng.lognormvariate(math.log(3 * 3600), 1.0)), 300_000) if r() < 0.12 else 0
        fr_at = cal.wall_at(w0 + fr_s)
        fr_warn, fr_due = cal.wall_at(w0 + fr_target * 3 // 4), cal.wall_at(w0 + fr_target)
        res_warn = cal.wall_at(w0 + res_target * 3 // 4 + paused)
        res_due = cal.wall_at(w0 + res_target + paused)

        assignee: Person | None = None
        first_response_at = first_seconds = resolved_at = closed_at = resolution_seconds = None
        reason = result = paused_since = None
        version, updated, paused_seconds = 1, created, 0
        if fr_at > now:
            status = "new"
        elif rejected:
            status, reason = "rejected", rng.choice(REJECT_REASONS)
            first_response_at, first_seconds, updated, version = fr_at, fr_s, fr_at, 2
        else:
            assignee = self._pick(self.agents, self.agent_cum)
            first_response_at, first_seconds, updated, version = fr_at, fr_s, fr_at, 2
            res_at = None if stuck else cal.wall_at(w0 + res_s + paused)
            if res_at is None or res_at > now:
                if (paused and r() < 0.5) or (stuck and r() < 0.4):
                    status, reason = "pending", rng.choice(PENDING_REASONS)
                    paused_since = max(fr_at, now - int(r() * 3 * DAY))
                    version, updated = version + 1, paused_since
                else:
                    status = "in_progress"
                    version += 2 if paused else 0
                paused_seconds = paused
            else:
                resolved_at, resolution_seconds = res_at, res_s
                result, paused_seconds = rng.choice(RESULTS), paused
                version += 1 + 2 * reopen + (2 if paused else 0)
                confirmed = r() < 0.4
                closes = res_at + (600 + int(r() * 72000) if confirmed else 3 * DAY + 30)
                if closes <= now:
                    status, closed_at, updated, version = "closed", closes, closes, version + 1
                else:
                    status, updated = "resolved", res_at

        # The scheduler's stamps: a threshold passed while its clock ran has fired.
        fr_end = first_response_at if first_response_at is not None else now
        fr_warned = fr_warn if fr_warn < fr_end else None
        fr_breached = fr_due if fr_due < fr_end else None
        if status == "rejected":
            res_end = updated
        elif resolved_at is not None:
            res_end = resolved_at
        elif paused_since is not None:
            res_end = paused_since
        else:
            res_end = now
        res_warned = res_warn if res_warn < res_end else None
        res_breached = res_due if res_due < res_end else None
        level = (fr_breached is not None) + (res_breached is not None)
        next_check = None
        if status in OPEN:
            upcoming = [t for t in (fr_warn, fr_due) if first_response_at is None and t > now]
            if status != "pending":
                upcoming += [t for t in (res_warn, res_due) if t > now]
            next_check = min(upcoming, default=None)

        if channel == "phone":
            creator: Person = self._pick(self.agents, self.agent_cum)
            created_by = (creator.id, creator.name, "agent")
            if r() < 0.5:
                requester: tuple[uuid.UUID | None, str | None] = (
                    unit.requester_id,
                    unit.requester_name,
                )
            else:
                requester = (None, None)
            contact: tuple[str | None, str | None, str | None] = (
                f"Operator {unit.name}",
                f"08{rng.randrange(10**9, 10**10)}",
                None,
            )
        else:
            created_by = (unit.requester_id, unit.requester_name, "requester")
            requester = (unit.requester_id, unit.requester_name)
            email = unit.requester_email if channel == "email" else None
            contact = (None, None, email)
        self.numbers[year] += 1
        titles = CATEGORY_MIX.get(category.name, (("Permintaan layanan TIK",), 1.0))[0]
        title = rng.choice(titles).format(n=rng.randint(1, 5))

        mix[status] += 1
        mix[f"channel:{channel}"] += 1
        mix[f"priority:{priority}"] += 1
        mix["first_response_breached"] += fr_breached is not None
        mix["resolution_breached"] += res_breached is not None
        mix["escalated"] += level > 0
        mix["reopened"] += reopen > 0 and resolved_at is not None
        return (
            uuid.uuid4(),
            f"TKT-{year}-{self.numbers[year]:06d}",
            title,
            f"{title}. Mohon segera ditindaklanjuti. Lokasi: {unit.name}.",
            category.id,
            priority,
            source,
            unit.id,
            *requester,
            *created_by,
            *contact,
            channel,
            status,
            reason,
            assignee.id if assignee else None,
            assignee.name if assignee else None,
            result,
            reopen if resolved_at is not None else 0,
            version,
            _ts(created),
            _ts(updated),
            _ts(first_response_at),
            _ts(resolved_at),
            _ts(closed_at),
            first_seconds,
            resolution_seconds,
            policy.first_response_minutes,
            policy.resolution_minutes,
            _ts(fr_warn),
            _ts(fr_due),
            _ts(fr_due),  # escalation at the breach (escalation ratio 1.0)
            _ts(res_warn),
            _ts(res_due),
            _ts(res_due),
            _ts(fr_warned),
            _ts(fr_breached),
            _ts(fr_breached),
            _ts(res_warned),
            _ts(res_breached),
            _ts(res_breached),
            level,
            _ts(paused_since),
            paused_seconds,
            _ts(next_check),
        )


async def seed_tickets(
    connection: asyncpg.Connection, factory: TicketFactory, *, total: int, chunk: int = 20000
) -> dict[str, Any]:
    """COPY the factory's tickets into tickets.tickets, generating the next chunk (in a
    thread) while PostgreSQL takes the previous one."""
    rows = factory.rows()
    started = time.perf_counter()
    copied = 0
    copying: asyncio.Task[str] | None = None
    last_log = started
    while copied < total:
        batch = await asyncio.to_thread(lambda: list(itertools.islice(rows, chunk)))
        if copying is not None:
            await copying
        if not batch:
            break
        copying = asyncio.create_task(
            connection.copy_records_to_table(
                "tickets", schema_name="tickets", columns=COLUMNS, records=batch
            )
        )
        copied += len(batch)
        if time.perf_counter() - last_log > 30:
            last_log = time.perf_counter()
            rate = copied / (last_log - started)
            log(f"seed: {copied:,} tickets ({rate:,.0f}/s)")
    if copying is not None:
        await copying
    copy_seconds = time.perf_counter() - started
    vacuum_started = time.perf_counter()
    # As autovacuum would leave a table this old: statistics, visibility map, hint bits.
    await connection.execute("VACUUM (ANALYZE) tickets.tickets")
    vacuum_seconds = time.perf_counter() - vacuum_started
    # The numbers drawn from now on follow the seeded ones.
    for year, last in factory.numbers.items():
        sequence = f"tickets.ticket_number_{year}"
        if await connection.fetchval("SELECT to_regclass($1)", sequence):
            await connection.execute("SELECT setval($1::regclass, $2)", sequence, last)
    size = await connection.fetchval(
        "SELECT pg_size_pretty(pg_total_relation_size('tickets.tickets'))"
    )
    return {
        "tickets": copied,
        "copy_seconds": round(copy_seconds, 1),
        "tickets_per_s": round(copied / copy_seconds),
        "vacuum_analyze_seconds": round(vacuum_seconds, 1),
        "table_size_with_indexes": size,
        "mix": mix_shares(factory.mix, copied),
    }


def mix_shares(mix: Counter[str], total: int) -> dict[str, str]:
    return {k: f"{v:,} ({100 * v / total:.1f} %)" for k, v in sorted(mix.items())}


# -- the rebuild ---------------------------------------------------------------------------


class Meter(CpuMeter):
    """bench/common.py's CPU meter, knowing the reports service too."""

    @staticmethod
    def _label(proc: psutil.Process) -> str:
        label = CpuMeter._label(proc)
        if label == "other":
            with contextlib.suppress(psutil.Error):
                if "reports.main" in " ".join(proc.cmdline()):
                    return "reports"
        return label


async def build_world(api: Api, db: asyncpg.Connection, admin_password: str) -> World:
    """People and master data through the API, known to the tickets and reports services,
    and the reports service's first (empty) rebuild over: ready for the seed."""
    admin, leader, units, agents = await create_people_and_master_data(api, admin_password)
    await wait_for_directories(db, units=len(units), agents=len(agents))
    world = await load_world(db, admin=admin, leader=leader, units=units, agents=agents)
    await rebuild_idle(api, admin)
    return world


async def rebuild_idle(api: Api, token: str) -> None:
    """Until no rebuild runs (the reports service builds its model on its first start)."""
    for _ in range(240):
        state = await api.ok("GET", "/api/reports/rebuild", token=token)
        if state["building_generation"] is None:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the reports service's first rebuild did not end: {state}")


async def rebuild(api: Api, world: World, meter: Meter, *, total: int) -> dict[str, Any]:
    """POST /api/reports/rebuild and poll until the rebuilt generation is the active one."""
    path = "/api/reports/rebuild"
    meter.begin()
    started = time.perf_counter()
    state = await api.ok("POST", path, token=world.admin_token)
    generation = state["building_generation"]
    progress: list[tuple[float, int]] = []
    errors: list[str] = []
    last_log = started
    while True:
        await asyncio.sleep(1.0)
        state = await api.ok("GET", path, token=world.admin_token)
        elapsed = time.perf_counter() - started
        if state["last_error"] and state["last_error"] not in errors:
            errors.append(state["last_error"])
        if state["building_generation"] is None and state["active_generation"] == generation:
            break
        progress.append((round(elapsed, 1), state["build_tickets"]))
        if time.perf_counter() - last_log > 30:
            last_log = time.perf_counter()
            done = state["build_tickets"]
            log(f"rebuild: {done:,}/{total:,} tickets, {done / elapsed:,.0f}/s")
    seconds = time.perf_counter() - started
    cpu = meter.end(seconds)
    server_seconds = None
    if state["build_started_at"] and state["built_at"]:
        server_seconds = (
            datetime.fromisoformat(state["built_at"])
            - datetime.fromisoformat(state["build_started_at"])
        ).total_seconds()
    # The rate over each tenth of the rebuild: does a page cost more as the model grows?
    tenths = []
    for i in range(1, 11):
        mark = total * i / 10
        reached = next((t for t, n in progress if n >= mark), seconds)
        tenths.append(round(reached, 1))
    rates = [
        round(total / 10 / (b - a)) if b > a else None
        for a, b in itertools.pairwise([0.0, *tenths])
    ]
    return {
        "tickets": total,
        "seconds": round(seconds, 1),
        "server_seconds": round(server_seconds, 1) if server_seconds is not None else None,
        "tickets_per_s": round(total / seconds),
        "tickets_per_s_by_tenth": rates,
        "generation": generation,
        "errors_retried": errors[:5],
        "cpu_percent": cpu,
    }


# -- live events ---------------------------------------------------------------------------

SNAPSHOT_SQL = """
SELECT t.id, t.number, t.title, t.status, t.priority, t.category_id, t.unit_id,
    u.name AS unit_name, t.requester_id, t.requester_name, t.contact_name, t.assignee_id,
    t.assignee_name, t.created_at, t.first_response_at, t.resolved_at, t.closed_at,
    t.first_response_due_at, t.resolution_due_at, t.version, t.channel, t.updated_at,
    t.first_response_seconds, t.resolution_seconds, t.first_response_breached_at,
    t.resolution_breached_at, t.escalation_level, t.reopen_count, t.result_summary
FROM tickets.tickets t JOIN tickets.units u ON u.id = t.unit_id
WHERE t.status IN ('new', 'in_progress', 'pending', 'resolved')
ORDER BY t.id
"""


@dataclass
class Event:
    event_id: str
    event_type: str
    body: bytes


@dataclass
class Burst:
    """Ticket lifecycles as the tickets service publishes them: each change a new version
    with the ticket's whole snapshot (claim = assigned + status_changed, resolve =
    status_changed + resolved, ...; the scheduler's breach and escalation keep the
    version). Round-robin over the tickets: a consumer batch never holds two changes of one
    ticket, as it would not under real traffic."""

    world: World
    factory: TicketFactory
    rng: random.Random
    gateway_url: str
    events: list[Event] = field(default_factory=list)
    mix: Counter[str] = field(default_factory=Counter)

    def _snapshot(self, s: dict[str, Any]) -> TicketSnapshot:
        return TicketSnapshot(**s)

    def _add(self, payload: EventPayload) -> None:
        envelope = EventEnvelope.wrap(payload, producer="tickets")
        self.events.append(
            Event(
                str(envelope.event_id),
                envelope.event_type,
                envelope.model_dump_json().encode(),
            )
        )
        self.mix[envelope.event_type] += 1

    def state_of(self, row: asyncpg.Record, names: dict[uuid.UUID, str]) -> dict[str, Any]:
        s = dict(row)
        s["ticket_id"] = s.pop("id")
        s["category_name"] = names.get(row["category_id"])
        s["priority_name"] = self.world.priorities[row["priority"]].name
        s["url"] = f"{self.gateway_url}/#/tickets/{row['id']}"
        return s

    def new_ticket(self, at: datetime) -> dict[str, Any]:
        f, cal = self.factory, self.world.calendar
        unit: Unit = f._pick(f.units, f.unit_cum)
        category: Category = f._pick(f.categories, f.category_cum)
        priority = category.default_priority or f.default_priority
        policy = self.world.priorities[priority]
        w0 = cal.work_at(int(at.timestamp()))
        year = at.astimezone(OFFICE_TZ).year
        f.numbers[year] += 1
        ticket_id = uuid.uuid4()
        s: dict[str, Any] = {
            "ticket_id": ticket_id,
            "number": f"TKT-{year}-{f.numbers[year]:06d}",
            "title": self.rng.choice(
                CATEGORY_MIX.get(category.name, (("Permintaan",), 1))[0]
            ).format(n=self.rng.randint(1, 5)),
            "status": "new",
            "priority": priority,
            "category_id": category.id,
            "category_name": category.name,
            "unit_id": unit.id,
            "unit_name": unit.name,
            "requester_id": unit.requester_id,
            "requester_name": unit.requester_name,
            "created_at": at,
            "updated_at": at,
            "first_response_due_at": _ts(cal.wall_at(w0 + policy.first_response_minutes * 60)),
            "resolution_due_at": _ts(cal.wall_at(w0 + policy.resolution_minutes * 60)),
            "version": 1,
            "channel": f._pick(CHANNELS, f.channel_cum)[0],
            "escalation_level": 0,
            "reopen_count": 0,
            "priority_name": policy.name,
            "url": f"{self.gateway_url}/#/tickets/{ticket_id}",
        }
        actor = Actor(user_id=unit.requester_id, name=unit.requester_name, role="requester")
        self._add(TicketCreated(ticket=self._snapshot(s), actor=actor))
        return s

    def _working_seconds(self, s: dict[str, Any], at: datetime) -> int:
        cal = self.world.calendar
        return cal.work_at(int(at.timestamp())) - cal.work_at(int(s["created_at"].timestamp()))

    def _change(self, s: dict[str, Any], at: datetime, **changes: Any) -> TicketSnapshot:
        if s.get("first_response_at") is None and changes.get("status", "new") != "new":
            changes["first_response_at"] = at
            changes["first_response_seconds"] = self._working_seconds(s, at)
        s.update(changes, version=s["version"] + 1, updated_at=at)
        self.mix["(version-bumping changes)"] += 1
        return self._snapshot(s)

    def step(self, s: dict[str, Any], at: datetime) -> bool:
        """One change of the ticket; False once it is closed or rejected."""
        rng, r = self.rng, self.rng.random()
        status = s["status"]
        agent = next((a for a in self.world.agents if a.id == s.get("assignee_id")), None)
        agent = agent or rng.choice(self.world.agents)
        actor = Actor(user_id=agent.id, name=agent.name, role="agent")
        due: datetime | None = s.get("resolution_due_at")
        breaches = status in ("new", "in_progress") and r < 0.3
        if breaches and due is not None and due <= at and s.get("resolution_breached_at") is None:
            s.update(resolution_breached_at=at, escalation_level=s["escalation_level"] + 1)
            ticket = self._snapshot(s)
            system = Actor(user_id=None, name="Sistem", role="system")
            self._add(
                TicketSlaBreached(ticket=ticket, actor=system, target="resolution", due_at=due)
            )
            self._add(
                TicketEscalated(
                    ticket=ticket,
                    actor=system,
                    target="resolution",
                    reason="Eskalasi otomatis: target penyelesaian terlewati",
                )
            )
            return True
        if status == "new":
            if r < 0.05:
                reason = rng.choice(REJECT_REASONS)
                ticket = self._change(s, at, status="rejected", status_reason=reason)
                self._add(
                    TicketStatusChanged(
                        ticket=ticket,
                        actor=actor,
                        from_status="new",
                        to_status="rejected",
                        reason=reason,
                    )
                )
                return False
            ticket = self._change(
                s, at, status="in_progress", assignee_id=agent.id, assignee_name=agent.name
            )
            self._add(
                TicketAssigned(
                    ticket=ticket, actor=actor, assignee_id=agent.id, assignee_name=agent.name
                )
            )
            self._add(
                TicketStatusChanged(
                    ticket=ticket, actor=actor, from_status="new", to_status="in_progress"
                )
            )
        elif status == "in_progress" and r < 0.25:
            reason = rng.choice(PENDING_REASONS)
            ticket = self._change(s, at, status="pending", status_reason=reason)
            self._add(
                TicketStatusChanged(
                    ticket=ticket,
                    actor=actor,
                    from_status="in_progress",
                    to_status="pending",
                    reason=reason,
                )
            )
        elif status == "in_progress" and r < 0.45:
            other = rng.choice([a for a in self.world.agents if a.id != agent.id])
            ticket = self._change(s, at, assignee_id=other.id, assignee_name=other.name)
            self._add(
                TicketAssigned(
                    ticket=ticket,
                    actor=actor,
                    assignee_id=other.id,
                    assignee_name=other.name,
                    previous_assignee_id=agent.id,
                )
            )
        elif status == "pending" and r < 0.6:
            ticket = self._change(s, at, status="in_progress", status_reason=None)
            self._add(
                TicketStatusChanged(
                    ticket=ticket, actor=actor, from_status="pending", to_status="in_progress"
                )
            )
        elif status in ("in_progress", "pending"):
            result = rng.choice(RESULTS)
            ticket = self._change(
                s,
                at,
                status="resolved",
                resolved_at=at,
                resolution_seconds=self._working_seconds(s, at),
                result_summary=result,
            )
            self._add(
                TicketStatusChanged(
                    ticket=ticket, actor=actor, from_status=status, to_status="resolved"
                )
            )
            self._add(TicketResolved(ticket=ticket, actor=actor, result_summary=result))
        elif status == "resolved" and r < 0.35:
            ticket = self._change(
                s,
                at,
                status="in_progress",
                resolved_at=None,
                resolution_seconds=None,
                reopen_count=s["reopen_count"] + 1,
            )
            requester = Actor(
                user_id=s.get("requester_id"), name=s.get("requester_name") or "", role="requester"
            )
            reason = "Masalah muncul lagi"
            self._add(
                TicketStatusChanged(
                    ticket=ticket,
                    actor=requester,
                    from_status="resolved",
                    to_status="in_progress",
                    reason=reason,
                )
            )
            self._add(TicketReopened(ticket=ticket, actor=requester, reason=reason))
        elif status == "resolved":
            ticket = self._change(s, at, status="closed", closed_at=at)
            requester = Actor(
                user_id=s.get("requester_id"), name=s.get("requester_name") or "", role="requester"
            )
            self._add(
                TicketStatusChanged(
                    ticket=ticket, actor=requester, from_status="resolved", to_status="closed"
                )
            )
            self._add(TicketClosed(ticket=ticket, actor=requester))
            return False
        return s["status"] not in ("closed", "rejected")

    def build(self, seeded: list[asyncpg.Record], target: int) -> list[Event]:
        names = {c.id: c.name for c in self.world.categories}
        alive = [self.state_of(row, names) for row in seeded]
        self.rng.shuffle(alive)
        started = datetime.now(UTC)
        per_ticket = 7  # events of a ticket's lifecycle on average (measured roughly)
        extra = max(0, target - per_ticket * len(alive)) // per_ticket
        for n in range(extra):
            alive.append(self.new_ticket(started + timedelta(microseconds=n)))
        for round_no in itertools.count(1):
            if len(self.events) >= target:
                break
            if not alive:
                missing = (target - len(self.events)) // per_ticket + 1
                at = started + timedelta(seconds=round_no)
                alive = [self.new_ticket(at) for _ in range(missing)]
                continue
            at = started + timedelta(seconds=round_no)
            alive = [s for s in alive if self.step(s, at)]
        del self.events[target:]
        return self.events


async def inbox_count(connection: asyncpg.Connection, consumer: str) -> int:
    return int(
        await connection.fetchval(
            "SELECT count(*) FROM reports.inbox WHERE consumer = $1", consumer
        )
    )


async def live_burst(
    *,
    amqp_url: str,
    namespace: str,
    route: str,
    events: list[Event],
    db: asyncpg.Connection,
    meter: Meter,
    timeout: float,
) -> dict[str, Any]:
    """Publish every event, then wait until the reports consumer's inbox holds them all."""
    queue_name = f"{namespace}reports"
    exchange_name = f"{namespace}helpdesk.events"
    before = await inbox_count(db, queue_name)
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        if route == "queue":
            exchange = channel.default_exchange
        else:
            exchange = await channel.declare_exchange(
                exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )

        async def depth() -> int:
            probe = await connection.channel()
            try:
                queue = await probe.declare_queue(queue_name, passive=True)
                return int(queue.declaration_result.message_count or 0)
            finally:
                await probe.close()

        async def publish() -> float:
            for i in range(0, len(events), 500):
                await asyncio.gather(
                    *(
                        exchange.publish(
                            aio_pika.Message(
                                event.body,
                                message_id=event.event_id,
                                type=event.event_type,
                                content_type="application/json",
                                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                timestamp=datetime.now(UTC),
                                app_id="tickets",
                            ),
                            routing_key=queue_name if route == "queue" else event.event_type,
                        )
                        for event in events[i : i + 500]
                    )
                )
            return time.perf_counter() - started

        meter.begin()
        started = time.perf_counter()
        publishing = asyncio.create_task(publish())
        samples: list[tuple[float, int, int]] = []
        max_depth, last_log = 0, started
        while True:
            await asyncio.sleep(0.5)
            done = await inbox_count(db, queue_name) - before
            elapsed = time.perf_counter() - started
            waiting = await depth()
            max_depth = max(max_depth, waiting)
            if not samples or elapsed - samples[-1][0] >= 5:
                samples.append((round(elapsed, 1), waiting, done))
            if time.perf_counter() - last_log > 30:
                last_log = time.perf_counter()
                log(f"live: {done:,}/{len(events):,} events projected, {waiting:,} queued")
            if done >= len(events) and publishing.done():
                break
            if elapsed > timeout:
                raise RuntimeError(f"the burst was not projected in {timeout:.0f}s: {done:,}")
        seconds = time.perf_counter() - started
        cpu = meter.end(seconds)
        publish_seconds = await publishing
    finally:
        await connection.close()
    return {
        "events": len(events),
        "route": route,
        "queue": queue_name if route == "queue" else exchange_name,
        "publish_seconds": round(publish_seconds, 1),
        "seconds": round(seconds, 1),
        "events_per_s": round(len(events) / seconds),
        "max_queue_depth": max_depth,
        "samples_seconds_depth_done": samples,
        "cpu_percent": cpu,
    }


# -- the figures ---------------------------------------------------------------------------


def month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def periods(today: date) -> dict[str, tuple[date, date]]:
    this_month = month_start(today)
    last = this_month - timedelta(days=1)
    return {
        "a day": (today - timedelta(days=1), today - timedelta(days=1)),
        "today": (today, today),
        "30 days": (today - timedelta(days=29), today),
        "this month": (this_month, today),
        "last month (whole)": (month_start(today, 1), last),
        "12 months (whole)": (month_start(today, 12), last),
        "12 months": (today - timedelta(days=364), today),
        "2 years (whole)": (month_start(today, 24), last),
        "2 years": (today - timedelta(days=DAYS - 1), today),
    }


ALL_PERIODS = tuple(periods(date(2026, 1, 1)))
SHORT = ("a day", "today", "30 days", "this month", "last month (whole)")
ENDPOINTS: dict[str, tuple[str, dict[str, str], tuple[str, ...]]] = {
    # key: (path, fixed parameters, periods asked for)
    "summary": ("/api/reports/summary", {}, ALL_PERIODS),
    "trend/day": ("/api/reports/trend", {"group_by": "day"}, SHORT),
    "trend/week": (
        "/api/reports/trend",
        {"group_by": "week"},
        ("30 days", "this month", "last month (whole)", "12 months (whole)", "12 months"),
    ),
    "trend/month": (
        "/api/reports/trend",
        {"group_by": "month"},
        ALL_PERIODS[3:],
    ),
    "trend/year": (
        "/api/reports/trend",
        {"group_by": "year"},
        ("12 months (whole)", "12 months", "2 years (whole)", "2 years"),
    ),
    **{
        f"breakdown/{by}": ("/api/reports/breakdown", {"by": by}, ALL_PERIODS)
        for by in ("unit", "category", "priority", "channel", "agent")
    },
    "completed": ("/api/reports/completed", {"limit": "50"}, ALL_PERIODS),
    "dimensions": ("/api/reports/dimensions", {}, ()),
}
FILTERS = ("none", "unit", "unit+category", "agent", "priority", "channel")


def filter_params(kind: str, world: World, rng: random.Random) -> dict[str, str]:
    unit = str(rng.choice(world.units[:20]).id)  # the busier half: filters that match rows
    if kind == "unit":
        return {"unit_id": unit}
    if kind == "unit+category":
        return {"unit_id": unit, "category_id": str(rng.choice(world.categories).id)}
    if kind == "agent":
        return {"agent_id": str(rng.choice(world.agents).id)}
    if kind == "priority":
        return {"priority": rng.choice(list(world.priorities))}
    if kind == "channel":
        return {"channel": rng.choice(CHANNELS)[0]}
    return {}


@dataclass
class Sample:
    key: str
    period: str
    filters: str
    seconds: float
    status: int
    source: str
    url: str
    percentiles: str


async def timed_get(
    session: aiohttp.ClientSession, base: str, path: str, params: dict[str, str], token: str
) -> tuple[float, int, Any, str]:
    started = time.perf_counter()
    async with session.get(
        base + path, params=params, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        body = await response.read()
        seconds = time.perf_counter() - started
        url = str(response.url.relative())
    data = json.loads(body) if response.status == 200 else body[:300].decode(errors="replace")
    return seconds, response.status, data, url


def source_of(key: str, data: Any) -> str:
    if isinstance(data, dict) and "source" in data:
        return str(data["source"])
    return {"completed": "ticket_facts", "dimensions": "dimension_names"}.get(key, "?")


def percentiles_of(data: Any) -> str:
    """How the response's medians and p90 were computed (exact, approximate, both)."""
    if not isinstance(data, dict):
        return "-"
    figures = [data["figures"]] if "figures" in data else data.get("rows", [])
    found = {
        f[measure].get("percentiles")
        for f in figures
        for measure in ("first_response", "resolution")
        if isinstance(f.get(measure), dict)
    } - {None}
    return "/".join(sorted(found)) or "-"


def spread(samples: list[Sample]) -> dict[str, Any]:
    ok = [s.seconds for s in samples if s.status == 200]
    return {"requests": len(samples), "errors": len(samples) - len(ok), **percentiles(ok)}


async def query_mix(
    session: aiohttp.ClientSession,
    base: str,
    world: World,
    rng: random.Random,
    *,
    per_endpoint: int,
) -> dict[str, Any]:
    """Every endpoint, one request at a time, over its periods x filters in turn."""
    spans = periods(world.today)
    plan: list[tuple[str, str, str]] = []
    for key, (_, _, wanted) in ENDPOINTS.items():
        combos = [(p, f) for p in wanted for f in FILTERS] or [("-", "none")]
        rng.shuffle(combos)
        plan += [(key, *combos[i % len(combos)]) for i in range(per_endpoint)]
    rng.shuffle(plan)  # endpoints interleaved, as several users would ask

    async def ask(key: str, period: str, kind: str) -> Sample:
        path, fixed, _ = ENDPOINTS[key]
        params = dict(fixed)
        if period != "-":
            first, last = spans[period]
            params |= {"from": first.isoformat(), "to": last.isoformat()}
        params |= filter_params(kind, world, rng)
        seconds, status, data, url = await timed_get(
            session, base, path, params, world.leader_token
        )
        return Sample(
            key, period, kind, seconds, status, source_of(key, data), url, percentiles_of(data)
        )

    # Warm-up: each endpoint a few times (connections, caches), not counted.
    for key in ENDPOINTS:
        for period, kind in itertools.islice(
            itertools.product(ENDPOINTS[key][2] or ("-",), FILTERS), 3
        ):
            await ask(key, period, kind)
    samples = [await ask(*item) for item in plan]

    per_endpoint_out: dict[str, Any] = {}
    for key in ENDPOINTS:
        mine = [s for s in samples if s.key == key]
        sources = Counter(s.source for s in mine)
        per_endpoint_out[key] = {
            **spread(mine),
            "sources": {
                src: {
                    "share": f"{100 * n / len(mine):.0f} %",
                    **spread([s for s in mine if s.source == src]),
                }
                for src, n in sources.most_common()
            },
            "percentiles": dict(Counter(s.percentiles for s in mine).most_common()),
            "p95_by_period_ms": {
                p: spread([s for s in mine if s.period == p])["p95_ms"]
                for p in dict.fromkeys(s.period for s in mine)
            },
        }
    by_source = {
        src: spread([s for s in samples if s.source == src])
        for src in sorted({s.source for s in samples})
    }
    slowest = sorted(samples, key=lambda s: -s.seconds)[:12]
    errors = [s for s in samples if s.status != 200][:5]
    return {
        "requests": len(samples),
        "overall": spread(samples),
        "per_endpoint": per_endpoint_out,
        "by_source": by_source,
        "endpoints_meeting_p95_100ms": sum(
            1 for v in per_endpoint_out.values() if v["p95_ms"] < 100
        ),
        "endpoints": len(per_endpoint_out),
        "slowest": [
            {
                "ms": round(s.seconds * 1000, 1),
                "source": s.source,
                "percentiles": s.percentiles,
                "url": s.url,
            }
            for s in slowest
        ],
        "errors": [{"status": s.status, "url": s.url} for s in errors],
    }


def auto_group_by(first: date, last: date) -> str:
    """The web client's grouping for a period (dashboard/format.js autoGroupBy)."""
    days = (last - first).days + 1
    return (
        "day" if days <= 31 else "week" if days <= 120 else "month" if days <= 3 * 366 else "year"
    )


# What a leader picks in the dashboard's filter bar: (period, filtered by a unit).
DASHBOARD_VIEWS = (
    ("default (this month)", False),
    ("default (this month)", True),
    ("30 days", False),
    ("12 months", False),
    ("2 years", False),
)
DASHBOARD_PARALLEL = 3  # the web client's limit per page (dashboard.js PARALLEL)


async def dashboards(
    session: aiohttp.ClientSession,
    base: str,
    world: World,
    rng: random.Random,
    *,
    loads: int,
    users: int,
) -> dict[str, Any]:
    """The web client's dashboard (gateway/src/gateway/web/js/views/dashboard.js) as a
    leader opens it: the filter boxes (dimensions), then summary, trend, the workload by
    agent and the breakdowns by unit, category, priority and channel, three at a time, then
    the recap of completed work (20). A load is done when its last call answers. One leader
    after another, then ``users`` leaders at the same time."""
    spans = periods(world.today)
    errors: Counter[str] = Counter()

    async def call(name: str, path: str, params: dict[str, str]) -> tuple[str, float]:
        seconds, status, data, _ = await timed_get(session, base, path, params, world.leader_token)
        if status != 200:
            errors[f"{name}: {status} {str(data)[:120]}"] += 1
        return name, seconds

    async def load() -> tuple[str, float, list[tuple[str, float]]]:
        view, by_unit = rng.choice(DASHBOARD_VIEWS)
        query: dict[str, str] = {}
        first, last = spans["this month"]
        if view in spans:
            first, last = spans[view]
            query = {"from": first.isoformat(), "to": last.isoformat()}
        if by_unit:
            query["unit_id"] = str(rng.choice(world.units[:20]).id)
        group_by = auto_group_by(first, last)
        reports = [
            ("summary", "/api/reports/summary", query),
            (f"trend ({group_by})", "/api/reports/trend", {**query, "group_by": group_by}),
            *(
                (f"breakdown by {by}", "/api/reports/breakdown", {**query, "by": by})
                for by in ("agent", "unit", "category", "priority", "channel")
            ),
        ]
        started = time.perf_counter()
        answers = [await call("dimensions", "/api/reports/dimensions", {})]
        pending = list(reports)

        async def worker() -> None:
            while pending:
                answers.append(await call(*pending.pop(0)))

        await asyncio.gather(*(worker() for _ in range(DASHBOARD_PARALLEL)))
        answers.append(await call("completed", "/api/reports/completed", {**query, "limit": "20"}))
        label = view + (" + unit" if by_unit else "")
        return label, time.perf_counter() - started, answers

    async def run(concurrent: int, total: int) -> dict[str, Any]:
        results: list[tuple[str, float, list[tuple[str, float]]]] = []

        async def leader(n: int) -> None:
            for _ in range(n):
                results.append(await load())

        errors.clear()
        started = time.perf_counter()
        share = [total // concurrent + (i < total % concurrent) for i in range(concurrent)]
        await asyncio.gather(*(leader(n) for n in share))
        wall = time.perf_counter() - started
        calls: dict[str, list[float]] = {}
        for _, _, answers in results:
            for name, seconds in answers:
                calls.setdefault(name.split(" (")[0], []).append(seconds)
        return {
            "leaders_at_once": concurrent,
            "loads": len(results),
            "loads_per_s": round(len(results) / wall, 2),
            "load": percentiles([seconds for _, seconds, _ in results]),
            "load_p50_ms_by_view": {
                view: percentiles([s for v, s, _ in results if v == view])["p50_ms"]
                for view in sorted({v for v, _, _ in results})
            },
            "calls_p95_ms": {name: percentiles(v)["p95_ms"] for name, v in calls.items()},
            "errors": dict(errors.most_common(5)),
        }

    await load()  # warm-up
    return {
        "one_leader": await run(1, loads),
        "several_leaders": await run(users, loads),
    }


async def check_figures(
    session: aiohttp.ClientSession, base: str, world: World, db: asyncpg.Connection, total: int
) -> dict[str, Any]:
    """The rebuilt model against the system of record: every ticket, the open backlog."""
    first, last = periods(world.today)["2 years"]
    _, status, data, _ = await timed_get(
        session,
        base,
        "/api/reports/summary",
        {"from": first.isoformat(), "to": last.isoformat()},
        world.leader_token,
    )
    open_now = await db.fetchval(
        "SELECT count(*) FROM tickets.tickets WHERE status IN ('new', 'in_progress', 'pending')"
    )
    if status != 200:
        return {"ok": False, "error": data}
    created = data["figures"]["created"]
    return {
        "ok": created == total and data["open_now"] == open_now,
        "summary_created": created,
        "tickets_seeded": total,
        "summary_open_now": data["open_now"],
        "tickets_open": open_now,
        "rows": {
            row["tablename"]: await db.fetchval(f'SELECT count(*) FROM reports."{row[0]}"')
            for row in await db.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'reports' AND (tablename"
                " LIKE 'rollup%' OR tablename IN ('ticket_facts', 'duration_histogram'))"
            )
        },
        "reports_schema_size": await db.fetchval(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'reports' AND c.relkind = 'r'"
        ),
    }


# -- the run -------------------------------------------------------------------------------


async def table_stats(db: asyncpg.Connection) -> dict[str, Any]:
    """The read model's tables: size with indexes, live and dead rows, autovacuum."""
    rows = await db.fetch(
        "SELECT relname, pg_size_pretty(pg_total_relation_size(relid)) AS size, n_live_tup,"
        " n_dead_tup, coalesce(last_autovacuum, last_vacuum) IS NOT NULL AS vacuumed,"
        " coalesce(last_autoanalyze, last_analyze) IS NOT NULL AS analyzed"
        " FROM pg_stat_user_tables WHERE schemaname = 'reports'"
        " AND (relname LIKE 'rollup%' OR relname IN ('ticket_facts', 'duration_histogram'))"
        " ORDER BY relname"
    )
    running = await db.fetch(
        "SELECT c.relname, p.phase FROM pg_stat_progress_vacuum p"
        " JOIN pg_class c ON c.oid = p.relid WHERE p.datname = current_database()"
    )
    return {
        "tables": {r["relname"]: dict(r.items()) for r in rows},
        "vacuum_running": [f"{r['relname']}: {r['phase']}" for r in running],
    }


async def maintain(db: asyncpg.Connection, mode: str) -> dict[str, Any]:
    """VACUUM (ANALYZE) the read model as autovacuum would have by the time leaders look
    (``auto``: only when this server runs without autovacuum)."""
    autovacuum = await db.fetchval("SHOW autovacuum")
    if mode == "never" or (mode == "auto" and autovacuum == "on"):
        return {"server_autovacuum": autovacuum, "vacuum_analyze_seconds": None}
    started = time.perf_counter()
    for table in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'reports'"):
        await db.execute(f'VACUUM (ANALYZE) reports."{table["tablename"]}"')
    return {
        "server_autovacuum": autovacuum,
        "vacuum_analyze_seconds": round(time.perf_counter() - started, 1),
    }


def code_version() -> str:
    """The commit measured (and whether the services' code differs from it)."""

    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "services", "packages", "gateway", "deploy")
    return git("rev-parse", "--short", "HEAD") + (" (modified)" if dirty else "")


def service_errors(output: list[str]) -> list[str]:
    """The first errors the services logged (the runner keeps their last 2,000 lines)."""
    found = [
        line.strip()[:2000] for line in output if '"level": "ERROR"' in line or "Traceback" in line
    ]
    return found[:10]


async def hold(seconds: float, gateway: str, database: str) -> None:
    """Keep the system up for inspection (EXPLAIN ANALYZE ...) until SIGINT or ``seconds``."""
    if seconds <= 0:
        return
    log(f"holding the system for {seconds:.0f}s (SIGINT to stop): {gateway}, database {database}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    loop.remove_signal_handler(signal.SIGINT)


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    run_id = uuid.uuid4().hex[:8]
    database = f"helpdesk_sys_{run_id}"
    namespace = f"test.{run_id}.sys."
    dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
    events_wanted = args.events if args.events is not None else min(200_000, args.tickets // 5)
    result: dict[str, Any] = {
        "reference_loop_seconds": reference_loop_seconds(),
        "tickets": args.tickets,
        "code": code_version(),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30),
        },
    }
    log(f"starting the system (database {database}, namespace {namespace})")
    with tempfile.TemporaryDirectory() as state:
        async with local_system(
            root=ROOT,
            state_dir=Path(state),
            run_id=run_id,
            extra_env=SYSTEM_ENV,
            extra_args=["--port-offset", str(args.port_offset), "--no-s3"],
        ) as system:
            result["startup_seconds"] = system.startup_seconds
            connector = aiohttp.TCPConnector(limit=64)
            timeout = aiohttp.ClientTimeout(total=120)
            db = await asyncpg.connect(dsn)
            try:
                async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                    api = Api(system.gateway_url, session)
                    world = await build_world(api, db, system.admin_password)

                    log(f"seeding {args.tickets:,} tickets with COPY")
                    factory = TicketFactory(world, total=args.tickets, rng=rng)
                    result["seed"] = await seed_tickets(db, factory, total=args.tickets)
                    log(f"seeded: {json.dumps(result['seed'])}")

                    meter = Meter(system.process.pid)
                    log("rebuilding the read model through POST /api/reports/rebuild")
                    result["rebuild"] = await rebuild(api, world, meter, total=args.tickets)
                    result["rebuild"]["page_size"] = PAGE_SIZE
                    result["rebuild"]["service_errors"] = service_errors(system.output)
                    result["rebuild"]["reports_tables"] = await table_stats(db)
                    log(f"rebuilt: {json.dumps(result['rebuild'])}")
                    result["check_after_rebuild"] = await check_figures(
                        session, system.gateway_url, world, db, args.tickets
                    )
                    log(f"check: {json.dumps(result['check_after_rebuild'])}")

                    if events_wanted:
                        log(f"building {events_wanted:,} ticket events")
                        burst = Burst(world, factory, rng, system.gateway_url)
                        events = burst.build(await db.fetch(SNAPSHOT_SQL), events_wanted)
                        log(f"publishing {len(events):,} events ({args.events_route} route)")
                        result["live"] = await live_burst(
                            amqp_url="amqp://guest:guest@127.0.0.1:5672/",
                            namespace=namespace,
                            route=args.events_route,
                            events=events,
                            db=db,
                            meter=meter,
                            timeout=max(600.0, len(events) / 50),
                        )
                        result["live"]["mix"] = mix_shares(burst.mix, len(events))
                        del events, burst
                        log(f"live: {json.dumps(result['live'])}")

                    log("maintenance before the queries")
                    result["maintenance"] = await maintain(db, args.vacuum)
                    result["reports_tables_before_queries"] = await table_stats(db)
                    log(f"querying ({args.queries} requests per endpoint)")
                    meter.begin()
                    started = time.perf_counter()
                    result["queries"] = await query_mix(
                        session, system.gateway_url, world, rng, per_endpoint=args.queries
                    )
                    result["queries"]["cpu_percent"] = meter.end(time.perf_counter() - started)
                    log("dashboards")
                    result["dashboard"] = await dashboards(
                        session,
                        system.gateway_url,
                        world,
                        rng,
                        loads=args.dashboard_loads,
                        users=args.dashboard_users,
                    )
                    result["reference_loop_seconds_after"] = reference_loop_seconds()
                    result["service_errors"] = service_errors(system.output)
                    print(json.dumps(result, indent=2), flush=True)
                    await hold(args.hold, system.gateway_url, database)
            finally:
                await db.close()
    print(f"saved to {save('reports_scale', result)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument(
        "--events", type=int, default=None, help="live burst size (default: tickets / 5, ≤ 200k)"
    )
    parser.add_argument("--events-route", choices=("queue", "exchange"), default="queue")
    parser.add_argument("--queries", type=int, default=100, help="requests per endpoint")
    parser.add_argument("--dashboard-loads", type=int, default=30)
    parser.add_argument("--dashboard-users", type=int, default=5)
    parser.add_argument("--port-offset", type=int, default=PORT_OFFSET)
    parser.add_argument(
        "--vacuum",
        choices=("auto", "always", "never"),
        default="auto",
        help="VACUUM (ANALYZE) the read model before the queries (auto: if autovacuum is off)",
    )
    parser.add_argument("--seed", type=int, default=20261204, help="random seed of the data")
    parser.add_argument(
        "--hold", type=float, default=0, help="keep the system up this long after the run"
    )
    asyncio.run(main(parser.parse_args()))
