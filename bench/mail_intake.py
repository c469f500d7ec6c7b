"""E-mail to ticket: 1,000 mails in an IMAP mailbox, time until all are tickets.

    uv run python bench/mail_intake.py [--mails 1000]
    uv run python bench/mail_intake.py --gateway http://127.0.0.1:8420 --admin-password ...

Starts the whole system (deploy/local/up.py) on shifted ports with its own database (or
uses a running one: --gateway and --admin-password), and a private Dovecot of its own
(helpdesk_testing.imap, a free loopback port). Seeds a unit, appends the mails to the
Dovecot mailbox (each from another address, so the per-sender throttle does not apply;
plain text, some quoted-printable with non-ASCII text, a few HTML-only), then creates a
mailbox through the admin API (policy create_ticket) and measures from that moment until
the processing log lists every mail as a ticket, and until IMAP shows every mail marked
processed. Prints mails per second and CPU per process, and saves them under bench/results/.
Target: none set by the issue; see the README's table for what was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import quopri
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_ENV, Api, CpuMeter, login, reference_loop_seconds, save, seed, system_of

from helpdesk_testing.imap import running_imap

ENV = {**BENCH_ENV, "INTEGRATIONS_LOG_LEVEL": "WARNING"}
USER = "bench@example.com"
PASSWORD = "bench-imap-password"


def mail(run: str, i: int) -> bytes:
    sender = f"warga{i}.{run}@example.com"
    head = (
        f"From: Warga {i} <{sender}>\r\nTo: {USER}\r\nSubject: Permintaan {run} nomor {i}\r\n"
        f"Date: Fri, 04 Dec 2026 09:15:00 +0700\r\nMessage-ID: <{run}.{i}@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    if i % 10 == 9:
        body = f"<html><body><p>Layar <b>biru</b> di PC-{i}</p><ul><li>sejak pagi</li></ul>"
        return (
            head + "Content-Type: text/html; charset=utf-8\r\n\r\n" + body + "</body></html>"
        ).encode()
    if i % 2:
        text = f"Aplikasi café nomor {i} gagal dibuka, tanda € muncul.\r\nTerima kasih."
        return (
            head.encode()
            + b"Content-Type: text/plain; charset=utf-8\r\n"
            + b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            + quopri.encodestring(text.encode())
        )
    return (
        head + "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Printer nomor {i} macet.\r\nKertas tersangkut.\r\n"
    ).encode()


async def logged(api: Api, token: str, mailbox_id: str) -> dict[str, int]:
    """Outcomes in the mailbox's processing log (every page)."""
    counts: dict[str, int] = {}
    cursor = ""
    while True:
        query = f"?limit=200&cursor={cursor}" if cursor else "?limit=200"
        page = await api.ok(
            "GET", f"/api/integrations/mailboxes/{mailbox_id}/messages{query}", token=token
        )
        for item in page["items"]:
            counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
        cursor = page["next_cursor"] or ""
        if not cursor:
            return counts


async def main(args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as imap_dir:
        async with (
            running_imap(Path(imap_dir)) as imap,
            system_of(args, env=ENV) as (
                gateway,
                admin_password,
                pid,
            ),
        ):
            imap.add_user(USER, PASSWORD)
            started = time.perf_counter()
            for i in range(args.mails):
                await imap.append(USER, mail(run, i))
            append_seconds = time.perf_counter() - started
            async with aiohttp.ClientSession() as session:
                api = Api(gateway, session)
                seeded = await seed(api, admin_password)
                admin = await login(api, "admin", admin_password)
                meter = CpuMeter(pid) if pid else None
                if meter:
                    meter.begin()
                started = time.perf_counter()
                mailbox = await api.ok(
                    "POST",
                    "/api/integrations/mailboxes",
                    token=admin,
                    body={
                        "name": f"Bench {run}",
                        "host": imap.host,
                        "port": imap.port,
                        "security": "none",
                        "username": USER,
                        "password": PASSWORD,
                        "default_unit_id": seeded.unit_id,
                        "default_category_id": seeded.category_id,
                        "unknown_senders": "create_ticket",
                        "poll_interval_seconds": 10,
                    },
                )
                first_at: float | None = None
                deadline = started + args.timeout
                counts: dict[str, int] = {}
                # Polls that failed meanwhile (a database or service refusing): each costs a
                # back-off, so the figure is only the pipeline's when this stays empty.
                errors: dict[str, int] = {}
                while time.perf_counter() < deadline:
                    box = await api.ok(
                        "GET", f"/api/integrations/mailboxes/{mailbox['id']}", token=admin
                    )
                    if box["status"]["last_error"]:
                        text = box["status"]["last_error"][:160]
                        errors[text] = max(
                            errors.get(text, 0), box["status"]["consecutive_failures"]
                        )
                    counts = await logged(api, admin, mailbox["id"])
                    if first_at is None and counts:
                        first_at = time.perf_counter() - started
                    if sum(counts.values()) >= args.mails:
                        break
                    await asyncio.sleep(0.25)
                all_logged = time.perf_counter() - started
                while time.perf_counter() < deadline:
                    flags = await imap.flags(USER)
                    if all("$HelpdeskProcessed" in f for f in flags.values()):
                        break
                    await asyncio.sleep(0.1)
                all_marked = time.perf_counter() - started
                cpu = meter.end(all_logged) if meter else None
    result: dict[str, Any] = {
        "reference_loop_seconds": reference_loop_seconds(),
        "mails": args.mails,
        "append_seconds": round(append_seconds, 2),
        "first_ticket_seconds": round(first_at or -1, 2),
        "all_tickets_seconds": round(all_logged, 2),
        "all_marked_seconds": round(all_marked, 2),
        "mails_per_second": round(args.mails / all_logged, 1),
        "outcomes": counts,
        "failed_polls": errors,
        "cpu_percent": cpu,
        "gateway": gateway,
    }
    print(json.dumps(result, indent=2))
    print(f"saved to {save('mail_intake', result)}")
    if counts.get("ticket", 0) != args.mails:
        raise SystemExit(f"not every mail became a ticket: {counts}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (s)")
    parser.add_argument("--gateway", default="", help="a running system's gateway URL")
    parser.add_argument("--admin-password", default="", help="its admin's password")
    asyncio.run(main(parser.parse_args()))
