"""The ticket list at a million tickets: every filter and sort of GET /tickets, timed.

    uv run python bench/list_scale.py [--tickets 1000000] [--repeat 10] [--target-ms 50]

Works on a running system of its own (deploy/local/up.py --port-offset 310 by default, its
database and state directory kept between runs), started here when its gateway does not
answer and stopped at the end (``--keep`` leaves it running):
1. people: 40 units, an agent and a requester through identity's API (found again by code
   and username on a later run);
2. seed: N tickets straight into ``tickets.tickets`` with INSERT ... SELECT over
   generate_series, skipped when the table already holds N or more: three years of
   tickets (volume growing), units, categories and agents unevenly loaded, 94 % closed or
   rejected, 1-2 % open (most of them recent), priorities 20/55/20/5 %, due dates from the
   priority, paused clocks for pending and resolved tickets, some tickets overdue, titles
   and descriptions from a vocabulary of help-desk words (a common word in about a third
   of the tickets, a rare one in 0.1 %); then ANALYZE, and VACUUM when the server runs
   without autovacuum (as autovacuum would have by then);
3. queries: through the gateway as the agent (all tickets) and as the requester (their
   unit's), each filter with the default sort and each sort without a filter, each of them
   alone, with a unit filter and with ``q``; the first page and then the next two pages
   (following ``next_cursor``), ``--repeat`` times; GET /views for both;
and prints p50/p95 per case (first pages and following pages apart), the worst p95, and a
JSON summary saved under bench/results/. Exits 1 when a p95 reaches ``--target-ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_ENV, ROOT, Api, login, percentiles, reference_loop_seconds, save

PG = "postgresql://postgres@127.0.0.1:5432"
UNITS = 40
PASSWORD = "bench-list-scale-1"
AGENT = "lsagent"
REQUESTER = "lsrequester"
# Title and description words, most common first: four are drawn a ticket, the first word
# in about 10 % of the draws, the twelfth in 1.7 %, the last in 0.7 % (a Zipf-like spread).
WORDS = (  # noqa: SIM905 - a paragraph of words reads better than a list of 70 strings
    "printer komputer jaringan internet email aplikasi login password akun laptop monitor "
    "keyboard mouse server website database backup wifi kabel telepon scanner proyektor "
    "software lisensi antivirus virus update instalasi jadwal rapat akses folder berkas "
    "dokumen cetak tinta kertas router switch kamera zoom daring sertifikat tandatangan "
    "arsip surat anggaran gaji absensi cuti inventaris aset pengadaan kontrak vendor "
    "gudang kendaraan bensin parkir listrik genset pendingin lift toilet kebersihan "
    "keamanan satpam gerbang kunci brankas"
).split()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the system ------------------------------------------------------------------------------


@dataclass
class System:
    gateway: str
    admin_password: str
    process: subprocess.Popen[bytes] | None = None


async def answers(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
            session.get(url + "/health/live") as response,
        ):
            return response.status < 500
    except (aiohttp.ClientError, TimeoutError):
        return False


async def start_system(args: argparse.Namespace) -> System:
    """The running system at the port offset, or one started here (database kept)."""
    gateway = f"http://127.0.0.1:{8000 + args.port_offset}"
    password_file = args.state_dir / "admin-password"
    if await answers(gateway):
        log(f"using the running system at {gateway}")
        return System(gateway, password_file.read_text().strip())
    log(f"starting the system at {gateway} (database {args.database})")
    args.state_dir.mkdir(parents=True, exist_ok=True)
    output = (args.state_dir / "bench-system.log").open("ab")
    process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own runner, started once
        [
            sys.executable,
            str(ROOT / "deploy" / "local" / "up.py"),
            *("--port-offset", str(args.port_offset)),
            *("--state-dir", str(args.state_dir)),
            *("--database", args.database),
            *("--namespace", f"{args.database}."),
            "--no-s3",
        ],
        env={**os.environ, **BENCH_ENV},
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180
    while not (password_file.exists() and await answers(gateway)):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the system did not start: see {args.state_dir}/bench-system.log")
        await asyncio.sleep(1)
    await asyncio.sleep(3)  # every service ready behind the gateway
    return System(gateway, password_file.read_text().strip(), process)


def stop_system(system: System) -> None:
    if system.process is not None and system.process.poll() is None:
        system.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            system.process.wait(60)


# -- people ----------------------------------------------------------------------------------


@dataclass
class People:
    unit_ids: list[str]
    agent_token: str
    agent_id: str
    requester_token: str
    requester_unit: str


async def user_token(api: Api, admin: str, body: dict[str, Any]) -> str:
    """Sign in as ``body``'s user, creating it first when it does not exist yet."""
    status, data = await api.call(
        "POST",
        "/api/identity/auth/login",
        body={"username": body["username"], "password": PASSWORD},
    )
    if status == 200:
        return str(data["access_token"])
    await api.ok("POST", "/api/identity/users", token=admin, body={**body, "password": PASSWORD})
    return await login(api, body["username"], PASSWORD)


async def ensure_people(api: Api, db: asyncpg.Connection, admin_password: str) -> People:
    admin = await login(api, "admin", admin_password)
    codes = [f"LSB{n:02d}" for n in range(UNITS)]
    known = {r["code"] for r in await db.fetch("SELECT code FROM tickets.units")}
    for n, code in enumerate(codes):
        if code not in known:
            await api.ok(
                "POST",
                "/api/identity/units",
                token=admin,
                body={"code": code, "name": f"Dinas Uji {n:02d}", "contact_email": f"{code}@x.id"},
            )
    deadline = time.monotonic() + 60
    while True:  # the tickets service learns units from identity's events
        rows = await db.fetch(
            "SELECT id, code FROM tickets.units WHERE code = ANY($1::text[]) ORDER BY code", codes
        )
        if len(rows) == UNITS:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the tickets service never heard of the bench's units")
        await asyncio.sleep(0.5)
    unit_ids = [str(r["id"]) for r in rows]
    agent = await user_token(
        api,
        admin,
        {"username": AGENT, "full_name": "Petugas Uji", "email": "lsagent@x.id", "role": "agent"},
    )
    requester = await user_token(
        api,
        admin,
        {
            "username": REQUESTER,
            "full_name": "Pemohon Uji",
            "email": "lsrequester@x.id",
            "role": "requester",
            "unit_id": unit_ids[0],
        },
    )
    me = await api.ok("GET", "/api/identity/auth/me", token=agent)
    return People(unit_ids, agent, str(me["id"]), requester, unit_ids[0])


# -- the million -----------------------------------------------------------------------------

# One chunk of tickets $1 .. $2 (generate_series) of $3 in all, ending now. Each row draws its
# numbers once (the lateral "r") so the columns of a ticket agree with each other.
SEED_SQL = """
INSERT INTO tickets.tickets (
    id, number, title, description, category_id, priority, priority_source, unit_id,
    requester_id, requester_name, created_by_id, created_by_name, created_by_role, channel,
    status, assignee_id, assignee_name, reopen_count, version, created_at, updated_at,
    first_response_at, resolved_at, closed_at, sla_first_response_minutes,
    sla_resolution_minutes, first_response_due_at, resolution_due_at, sla_paused_since,
    sla_paused_seconds, escalation_level
)
SELECT
    gen_random_uuid(),
    'LS-' || to_char(c.created_at, 'YYYY') || '-' || lpad(g::text, 7, '0'),
    initcap(w.w1) || ' ' || w.w2 || ' bermasalah',
    'Mohon bantuan: ' || w.w1 || ' dan ' || w.w3 || ' di ruang ' || (g % 97) || ', ' || w.w4
        || ' juga perlu dicek.'
        || CASE WHEN random() + 0 * g < 0.001 THEN ' Kode darurat merah.' ELSE '' END,
    ($4::uuid[])[1 + floor(power(r.r_cat, 1.6) * cardinality($4::uuid[]))::int],
    p.code, 'default',
    ($5::uuid[])[u.n],
    req.id, 'Pemohon ' || (g % 50), req.id, 'Pemohon ' || (g % 50), 'requester',
    (ARRAY['web', 'web', 'web', 'web', 'web', 'web', 'web', 'email', 'email', 'phone'])
        [1 + (g % 10)],
    s.status,
    CASE WHEN s.status = 'new' THEN NULL ELSE a.id END,
    CASE WHEN s.status = 'new' THEN NULL ELSE 'Petugas ' || a.n END,
    0, 1 + (g % 5), c.created_at,
    least(now(), c.created_at + interval '1 hour' * (1 + r.r_upd * 24 * 20)),
    CASE WHEN s.status = 'new' THEN NULL ELSE c.created_at + interval '20 minutes' END,
    CASE WHEN s.status IN ('resolved', 'closed')
        THEN least(now(), c.created_at + interval '1 hour' * (1 + r.r_upd * 24 * 10)) END,
    CASE WHEN s.status = 'closed'
        THEN least(now(), c.created_at + interval '1 hour' * (1 + r.r_upd * 24 * 20)) END,
    p.first_minutes, p.resolution_minutes,
    c.created_at + p.first_minutes * interval '1 minute',
    c.created_at + p.resolution_minutes * interval '1 minute',
    CASE WHEN s.status IN ('pending', 'resolved')
        THEN least(now(), c.created_at + interval '2 hours') END,
    0, 0
FROM generate_series($1::int, $2::int) AS g
CROSS JOIN LATERAL (
    SELECT random() AS r_age, random() AS r_status, random() AS r_prio, random() AS r_cat,
           random() AS r_unit, random() AS r_agent, random() AS r_upd, random() AS r_req,
           g AS dep
) AS r
CROSS JOIN LATERAL (
    -- volume grows over the three years: more tickets lately
    SELECT now() - interval '3 years' * (1 - sqrt(r.r_age)) - interval '1 minute' AS created_at
) AS c
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN c.created_at > now() - interval '14 days' THEN
            CASE WHEN r.r_status < 0.15 THEN 'new' WHEN r.r_status < 0.45 THEN 'in_progress'
                 WHEN r.r_status < 0.55 THEN 'pending' WHEN r.r_status < 0.75 THEN 'resolved'
                 WHEN r.r_status < 0.97 THEN 'closed' ELSE 'rejected' END
        ELSE
            CASE WHEN r.r_status < 0.003 THEN 'new' WHEN r.r_status < 0.010 THEN 'in_progress'
                 WHEN r.r_status < 0.014 THEN 'pending' WHEN r.r_status < 0.020 THEN 'resolved'
                 WHEN r.r_status < 0.960 THEN 'closed' ELSE 'rejected' END
        END AS status
) AS s
CROSS JOIN LATERAL (
    SELECT code, first_minutes, resolution_minutes FROM (VALUES
        ('low', 0.20, 480, 7200), ('normal', 0.75, 240, 4320),
        ('high', 0.95, 60, 1440), ('critical', 1.01, 30, 240)
    ) AS v(code, upto, first_minutes, resolution_minutes)
    WHERE r.r_prio < v.upto ORDER BY v.upto LIMIT 1
) AS p
CROSS JOIN LATERAL (
    SELECT floor(power(r.r_unit, 1.8) * cardinality($5::uuid[]))::int + 1 AS n
) AS u
CROSS JOIN LATERAL (
    SELECT floor(power(r.r_agent, 1.5) * cardinality($6::uuid[]))::int + 1 AS n
) AS an
CROSS JOIN LATERAL (SELECT ($6::uuid[])[an.n] AS id, an.n) AS a
CROSS JOIN LATERAL (
    -- 50 requesters a unit; the bench's requester files 2 % of their unit's tickets
    SELECT CASE WHEN u.n = 1 AND r.r_req < 0.02 THEN $7::uuid
        ELSE md5('req' || u.n || '-' || (g % 50))::uuid END AS id
) AS req
CROSS JOIN LATERAL (
    SELECT
        ($3::text[])[1 + floor(power(random() + 0 * g, 1.9) * cardinality($3::text[]))::int] AS w1,
        ($3::text[])[1 + floor(power(random() + 0 * g, 1.9) * cardinality($3::text[]))::int] AS w2,
        ($3::text[])[1 + floor(power(random() + 0 * g, 1.9) * cardinality($3::text[]))::int] AS w3,
        ($3::text[])[1 + floor(power(random() + 0 * g, 1.9) * cardinality($3::text[]))::int] AS w4
) AS w
"""


async def seed(db: asyncpg.Connection, people: People, *, total: int) -> dict[str, Any]:
    """``total`` tickets in the table (none added when it holds that many already)."""
    have = await db.fetchval("SELECT count(*) FROM tickets.tickets")
    if have >= total:
        log(f"the table holds {have:,} tickets already: not seeding")
        return {"seeded": 0, "tickets": have}
    categories = [r["id"] for r in await db.fetch("SELECT id FROM tickets.categories ORDER BY id")]
    units = [uuid_of(u) for u in people.unit_ids]
    # 30 agents, the bench's own first (the most loaded: assignee=me finds many tickets)
    agents = [uuid_of(people.agent_id)] + [
        uuid_of(await db.fetchval("SELECT md5('agent' || $1::text)::uuid", str(n)))
        for n in range(29)
    ]
    requester = await db.fetchval("SELECT id FROM tickets.users WHERE username = $1", REQUESTER)
    started = time.perf_counter()
    chunk = 100_000
    for first in range(have + 1, total + 1, chunk):
        last = min(total, first + chunk - 1)
        await db.execute(
            SEED_SQL, first, last, list(WORDS), categories, units, agents, requester or units[0]
        )
        log(f"seeded {last:,} of {total:,} ({time.perf_counter() - started:.0f}s)")
    seconds = time.perf_counter() - started
    await db.execute("ANALYZE tickets.tickets")
    return {"seeded": total - have, "tickets": total, "seed_seconds": round(seconds, 1)}


async def vacuum(db: asyncpg.Connection) -> dict[str, Any]:
    """VACUUM (ANALYZE) the tickets as autovacuum would have by the time people list them,
    when this server runs without it (it keeps the visibility map that index-only counts
    read)."""
    autovacuum = await db.fetchval("SHOW autovacuum")
    if autovacuum == "on":
        return {"server_autovacuum": autovacuum, "vacuum_seconds": None}
    started = time.perf_counter()
    await db.execute("VACUUM (ANALYZE) tickets.tickets")
    return {"server_autovacuum": autovacuum, "vacuum_seconds": round(time.perf_counter() - started)}


def uuid_of(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


# -- the cases -------------------------------------------------------------------------------

FILTERS: dict[str, dict[str, str]] = {
    "none": {},
    "status=open": {"status": "new,in_progress,pending"},
    "status=new": {"status": "new"},
    "status=pending": {"status": "pending"},
    "status=resolved": {"status": "resolved"},
    "status=closed": {"status": "closed"},
    "category": {},  # filled in: the second most used category
    "priority=critical": {"priority": "critical"},
    "assignee=me": {"assignee": "me"},
    "assignee=none": {"assignee": "none"},
    "requester": {},  # filled in: one requester's tickets
    "created last month": {},  # filled in
    "overdue=true": {"overdue": "true"},
    "overdue=false": {"overdue": "false"},
    "open+overdue": {"status": "new,in_progress", "overdue": "true"},
}
SORTS = (
    "-created_at",
    "created_at",
    "-updated_at",
    "updated_at",
    "number",
    "-number",
    "priority",
    "-priority",
    "due",
    "-due",
)
# q: a common word (in about a third of the tickets), a middling one (5 %) and a rare one
# (0.1 %).
QUERIES = ("printer", "keyboard", "darurat")


@dataclass
class Case:
    name: str
    who: str
    params: dict[str, str]
    first: list[float] = field(default_factory=list)
    following: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rows: int = 0
    # First pages that deferred their count (total_deferred), and the time of the
    # GET /tickets/count the client then makes for each: not the list's latency.
    deferred: int = 0
    counts: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        first, following = percentiles(self.first), percentiles(self.following)
        return {
            "case": self.name,
            "who": self.who,
            "params": self.params,
            "first_p50_ms": first["p50_ms"],
            "first_p95_ms": first["p95_ms"],
            "next_p50_ms": following["p50_ms"],
            "next_p95_ms": following["p95_ms"],
            "rows_first_page": self.rows,
            "first_pages": len(self.first),
            "deferred_first_pages": self.deferred,
            "count_p50_ms": percentiles(self.counts)["p50_ms"],
            "count_p95_ms": percentiles(self.counts)["p95_ms"],
            "errors": self.errors[:3],
        }

    @property
    def worst_p95(self) -> float:
        values = [percentiles(v)["p95_ms"] for v in (self.first, self.following) if v]
        return max(values, default=0.0)


async def fill_filters(db: asyncpg.Connection, people: People) -> dict[str, dict[str, str]]:
    filters = {name: dict(params) for name, params in FILTERS.items()}
    category = await db.fetchval(
        "SELECT category_id FROM tickets.tickets GROUP BY 1 ORDER BY count(*) DESC OFFSET 1 LIMIT 1"
    )
    requester = await db.fetchval(
        "SELECT requester_id FROM tickets.tickets WHERE unit_id = $1::uuid LIMIT 1",
        people.requester_unit,
    )
    filters["category"] = {"category_id": str(category)}
    filters["requester"] = {"requester_id": str(requester)}
    now = time.time()
    filters["created last month"] = {
        "created_from": time.strftime("%Y-%m-%d", time.gmtime(now - 60 * 86400)),
        "created_to": time.strftime("%Y-%m-%d", time.gmtime(now - 30 * 86400)),
    }
    return filters


def build_cases(filters: dict[str, dict[str, str]], people: People, cross: bool) -> list[Case]:
    """Each filter (default sort) and each sort (no filter): alone, with a unit, with q;
    as the agent and as the requester (whose unit filter is their own unit)."""
    unit = {"unit_id": people.unit_ids[3]}
    shapes: list[tuple[str, dict[str, str]]] = [
        *((f"filter {name}", params) for name, params in filters.items()),
        *((f"sort {sort}", {"sort": sort}) for sort in SORTS),
    ]
    if cross:
        shapes += [
            (f"filter {name} sort {sort}", {**params, "sort": sort})
            for name, params in filters.items()
            if name != "none"
            for sort in SORTS
            if sort != "-created_at"
        ]
    cases = []
    for who in ("agent", "requester"):
        for name, params in shapes:
            if who == "requester" and ("assignee" in params or name == "filter requester"):
                continue
            cases.append(Case(name, who, params))
            if who == "agent":
                cases.append(Case(f"{name} + unit", who, {**params, **unit}))
            for word in QUERIES if not cross else QUERIES[:1]:
                cases.append(Case(f"{name} + q={word}", who, {**params, "q": word}))
    return cases


async def timed_get(
    session: aiohttp.ClientSession, url: str, params: dict[str, str], token: str
) -> tuple[float, int, Any]:
    started = time.perf_counter()
    async with session.get(
        url, params=params, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        data = await response.json(content_type=None)
    return time.perf_counter() - started, response.status, data


async def run_case(
    session: aiohttp.ClientSession, base: str, case: Case, token: str, *, pages: int
) -> None:
    """The first page, then ``pages - 1`` more by the cursor."""
    params = {**case.params, "limit": "25"}
    cursor = None
    for page in range(pages):
        query = params if cursor is None else {**params, "cursor": cursor}
        seconds, status, data = await timed_get(
            session, base + "/api/tickets/tickets", query, token
        )
        if status != 200:
            case.errors.append(f"{status}: {str(data)[:200]}")
            return
        (case.first if page == 0 else case.following).append(seconds)
        if page == 0:
            case.rows = len(data["items"])
            if data.get("total_deferred"):
                await time_count(session, base, case, token)
        cursor = data.get("next_cursor")
        if cursor is None:
            return


async def time_count(session: aiohttp.ClientSession, base: str, case: Case, token: str) -> None:
    """What the web client does after a first page with total_deferred: GET /tickets/count
    with the same filters (timed apart from the list)."""
    case.deferred += 1
    seconds, status, data = await timed_get(
        session, base + "/api/tickets/tickets/count", case.params, token
    )
    if status != 200:
        case.errors.append(f"count {status}: {str(data)[:200]}")
        return
    case.counts.append(seconds)


async def measure(
    session: aiohttp.ClientSession,
    base: str,
    people: People,
    cases: list[Case],
    *,
    repeat: int,
    pages: int,
) -> list[Case]:
    tokens = {"agent": people.agent_token, "requester": people.requester_token}
    for case in cases:  # warm-up: each case once
        await run_case(session, base, case, tokens[case.who], pages=pages)
        case.first.clear()
        case.following.clear()
        case.counts.clear()
        case.deferred = 0
    for _ in range(repeat):
        for case in cases:
            await run_case(session, base, case, tokens[case.who], pages=pages)
    views = [Case("GET /views", who, {}) for who in tokens]
    for case in views:
        for _ in range(repeat * 3):
            seconds, status, data = await timed_get(
                session, base + "/api/tickets/views", {}, tokens[case.who]
            )
            if status != 200:
                case.errors.append(f"{status}: {str(data)[:200]}")
            case.first.append(seconds)
    return cases + views


async def save_agent_views(api: Api, people: People) -> None:
    """The agent's saved views (counted by GET /views with the built-in ones)."""
    views = await api.ok("GET", "/api/tickets/views", token=people.agent_token)
    have = {v["name"] for v in (views["items"] if isinstance(views, dict) else views)}
    wanted = {
        "Unit 3 terbuka": {"unit_id": people.unit_ids[3], "status": "new,in_progress,pending"},
        "Kritis terlambat": {"priority": "critical", "overdue": "true"},
        "Printer": {"q": "printer"},
        "Ditutup": {"status": "closed"},
    }
    for name, params in wanted.items():
        if name not in have:
            await api.ok(
                "POST",
                "/api/tickets/views",
                token=people.agent_token,
                body={"name": name, "params": params},
            )


def p95_of(seconds: list[float]) -> float:
    """p95 in ms, 0 when nothing was timed (a case without following pages)."""
    return percentiles(seconds)["p95_ms"] if seconds else 0.0


def print_deferred(cases: list[Case]) -> dict[str, Any]:
    """The cases whose first page deferred its count: how often, and GET /tickets/count's
    p50/p95 (the time until the client shows the total; the list itself is above)."""
    deferred = [c for c in cases if c.deferred]
    print(f"\n{len(deferred)} cases deferred their count on a first page (GET /tickets/count):")
    print(f"{'case':<52} {'who':<9} {'deferred':>9} {'cnt p50':>8} {'cnt p95':>8}")
    for case in deferred:
        s = case.summary()
        print(
            f"{case.name[:52]:<52} {case.who:<9} {case.deferred:>4} of {len(case.first):<2}"
            f" {s['count_p50_ms']:>8} {s['count_p95_ms']:>8}",
            flush=True,
        )
    every = [seconds for case in deferred for seconds in case.counts]
    return {
        "cases_deferred": len(deferred),
        "first_pages_deferred": sum(c.deferred for c in cases),
        "first_pages": sum(len(c.first) for c in cases),
        "count_all": percentiles(every),
        "count_worst_case_p95_ms": max((p95_of(c.counts) for c in deferred), default=None),
    }


def print_table(cases: list[Case], target_ms: float) -> None:
    print(f"{'case':<52} {'who':<9} {'1st p50':>8} {'1st p95':>8} {'next p50':>8} {'next p95':>8}")
    for case in cases:
        s = case.summary()
        flag = "  <-- over" if case.worst_p95 >= target_ms else ""
        print(
            f"{case.name[:52]:<52} {case.who:<9} {s['first_p50_ms']:>8} {s['first_p95_ms']:>8}"
            f" {s['next_p50_ms']:>8} {s['next_p95_ms']:>8}{flag}"
            + (f"  errors: {s['errors'][0]}" if s["errors"] else ""),
            flush=True,
        )


async def main(args: argparse.Namespace) -> int:
    result: dict[str, Any] = {"reference_loop_seconds": reference_loop_seconds()}
    system = await start_system(args)
    db = await asyncpg.connect(f"{PG}/{args.database}")
    try:
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            api = Api(system.gateway, session)
            people = await ensure_people(api, db, system.admin_password)
            result["seed"] = await seed(db, people, total=args.tickets)
            result["vacuum"] = await vacuum(db)
            result["table_size"] = await db.fetchval(
                "SELECT pg_size_pretty(pg_total_relation_size('tickets.tickets'))"
            )
            await save_agent_views(api, people)
            cases = build_cases(await fill_filters(db, people), people, args.cross)
            if args.only:
                cases = [c for c in cases if args.only in c.name]
            log(f"{len(cases)} cases, {args.repeat} times each, {args.pages} pages")
            measured = await measure(
                session, system.gateway, people, cases, repeat=args.repeat, pages=args.pages
            )
    finally:
        await db.close()
        if not args.keep:
            stop_system(system)
    print_table(measured, args.target_ms)
    result["deferred_counts"] = print_deferred(measured)
    worst = max(measured, key=lambda c: c.worst_p95)
    errors = sum(len(c.errors) for c in measured)
    result["reference_loop_seconds_after"] = reference_loop_seconds()
    result["cases"] = [c.summary() for c in measured]
    result["worst_p95_ms"] = worst.worst_p95
    print(f"saved to {save('list_scale', result)}")
    over = [c for c in measured if c.worst_p95 >= args.target_ms]
    pages = [c for c in measured if c.name != "GET /views"]
    worst_first = max(pages, key=lambda c: p95_of(c.first))
    worst_next = max(pages, key=lambda c: p95_of(c.following))
    deferred = result["deferred_counts"]
    print(
        f"worst p95 {worst.worst_p95} ms ({worst.name}, {worst.who}); "
        f"{len(over)} of {len(measured)} cases at or over {args.target_ms:g} ms; {errors} errors\n"
        f"worst first page p95 {p95_of(worst_first.first)} ms"
        f" ({worst_first.name}, {worst_first.who}); worst following page p95"
        f" {p95_of(worst_next.following)} ms ({worst_next.name}, {worst_next.who})\n"
        f"deferred counts: {deferred['first_pages_deferred']} of {deferred['first_pages']}"
        f" first pages in {deferred['cases_deferred']} cases; GET /tickets/count p50"
        f" {deferred['count_all']['p50_ms']} ms, p95 {deferred['count_all']['p95_ms']} ms"
        f" (all together), worst case p95 {deferred['count_worst_case_p95_ms']} ms"
    )
    return 1 if over or errors else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10, help="times each case runs")
    parser.add_argument("--pages", type=int, default=3, help="the first page and the next ones")
    parser.add_argument("--target-ms", type=float, default=50.0, help="p95 to stay under")
    parser.add_argument("--cross", action="store_true", help="every filter with every sort too")
    parser.add_argument("--only", default="", help="only the cases whose name holds this")
    parser.add_argument("--port-offset", type=int, default=310)
    parser.add_argument("--database", default="bench_list_scale")
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/bench_list_scale"))  # noqa: S108
    parser.add_argument("--keep", action="store_true", help="leave the system running")
    sys.exit(asyncio.run(main(parser.parse_args())))
