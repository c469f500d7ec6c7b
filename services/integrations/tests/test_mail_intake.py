"""E-mail to ticket end to end: a real Dovecot (helpdesk_testing.imap), a real tickets service
on loopback (real PostgreSQL and RabbitMQ) and the integrations service's own poller.

Each test has its own IMAP user, mailbox and senders; mails are appended as raw bytes."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from helpdesk_common.contracts.identity import Role, UnitCreated, UserCreated
from helpdesk_common.directory.service import upsert_unit, upsert_user
from helpdesk_testing import eventually
from helpdesk_testing.imap import ImapServer
from helpdesk_testing.inputs import unguarded_inputs
from helpdesk_testing.migrations import model_differences
from helpdesk_testing.net import free_port
from integrations.intake import tickets_api
from integrations.mail.imap import PROCESSED, ImapAccount, ImapError, ImapSession
from integrations.mail.poller import poll_mailbox
from integrations.mail.process import source_key
from integrations.models import metadata

from .conftest import TicketsService, World, running_integrations

THROTTLE = 6


@pytest.fixture(scope="module")
async def world(
    tickets: TicketsService, make_settings: Callable[..., Any], make_token: Callable[..., str]
) -> AsyncIterator[World]:
    async with running_integrations(
        make_settings,
        make_token,
        tickets_url=tickets.url,
        mail_tick_seconds=0.1,
        mail_backoff_initial_seconds=1.0,
        mail_backoff_max_seconds=4.0,
        mail_throttle_count=THROTTLE,
        mail_own_addresses="helpdesk@localhost",
    ) as started:
        yield started


@dataclass
class Setup:
    world: World
    tickets: TicketsService
    imap: ImapServer
    admin: dict[str, str]
    unit_id: uuid.UUID

    async def unit(self) -> uuid.UUID:
        """A unit in both directory replicas (integrations' and tickets')."""
        unit_id = uuid.uuid4()
        snapshot = UnitCreated(
            unit_id=unit_id,
            code=f"M{unit_id.hex[:6].upper()}",
            name=f"Dinas {unit_id.hex[:4]}",
            is_active=True,
            revision=1,
            updated_at=datetime.now(UTC),
        )
        for runtime in (self.world.runtime, self.tickets.app.state.runtime):
            async with runtime.sessionmaker() as session, session.begin():
                await upsert_unit(session, snapshot=snapshot)
        return unit_id

    async def user(self, role: Role = "requester", *, email: str, name: str) -> uuid.UUID:
        user_id = uuid.uuid4()
        snapshot = UserCreated(
            user_id=user_id,
            username=f"{role}{user_id.hex[:8]}",
            full_name=name,
            email=email,
            role=role,
            unit_id=self.unit_id,
            is_active=True,
            revision=1,
            updated_at=datetime.now(UTC),
        )
        for runtime in (self.world.runtime, self.tickets.app.state.runtime):
            async with runtime.sessionmaker() as session, session.begin():
                await upsert_user(session, snapshot=snapshot)
        return user_id

    async def mailbox(self, **fields: Any) -> tuple[str, dict[str, Any]]:
        """A new IMAP user and a mailbox reading it; returns the address and the mailbox."""
        address = f"hd{uuid.uuid4().hex[:10]}@example.com"
        self.imap.add_user(address, "rahasia-imap")
        body = {
            "name": f"Kotak {address}",
            "host": self.imap.host,
            "port": self.imap.port,
            "security": "none",
            "username": address,
            "password": "rahasia-imap",
            "default_unit_id": str(self.unit_id),
            "default_category_id": str(self.tickets.category_id),
            **fields,
        }
        response = await self.world.client.post(
            "/mailboxes", json=body, headers={**self.admin, "Idempotency-Key": uuid.uuid4().hex}
        )
        assert response.status_code == 201, response.text
        return address, response.json()

    async def log(
        self, mailbox_id: str, expected: int, *, timeout: float = 20, poke: bool = True
    ) -> list[dict[str, Any]]:
        """The processing log once it has ``expected`` rows (oldest first); ``poke``: make
        the mailbox due again while waiting (a poll ending meanwhile sets its interval)."""

        async def rows() -> list[dict[str, Any]] | None:
            if poke:
                await self.poke(mailbox_id)
            response = await self.world.client.get(
                f"/mailboxes/{mailbox_id}/messages", params={"limit": 200}, headers=self.admin
            )
            assert response.status_code == 200, response.text
            items = response.json()["items"]
            return list(reversed(items)) if len(items) >= expected else None

        found = await eventually(rows, timeout=timeout)
        assert found is not None
        return found

    async def poke(self, mailbox_id: str) -> None:
        """Make the mailbox due now (instead of waiting for its interval)."""
        async with self.world.runtime.sessionmaker() as session, session.begin():
            await session.execute(
                sa.text("UPDATE mail_mailboxes SET next_attempt_at = now() WHERE id = :id"),
                {"id": uuid.UUID(mailbox_id)},
            )


@pytest.fixture(scope="module")
async def setup(world: World, tickets: TicketsService, imap_server: ImapServer) -> Setup:
    admin = await world.person("admin")
    made = Setup(world, tickets, imap_server, admin.headers, uuid.uuid4())
    made.unit_id = await made.unit()
    return made


def raw_mail(
    sender: str,
    subject: str,
    body: bytes = b"Mohon bantuan.",
    *,
    headers: str = "",
    content_type: str = "text/plain; charset=utf-8",
    cte: str = "8bit",
    message_id: str | None = None,
) -> tuple[bytes, str]:
    message_id = message_id or f"{uuid.uuid4().hex}@mail.example.com"
    head = (
        f"From: {sender}\r\nTo: helpdesk@example.com\r\nSubject: {subject}\r\n"
        f"Date: Fri, 04 Dec 2026 09:15:00 +0700\r\nMessage-ID: <{message_id}>\r\n{headers}"
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n"
        f"Content-Transfer-Encoding: {cte}\r\n\r\n"
    )
    return head.encode() + body, message_id


async def all_processed(imap: ImapServer, address: str) -> bool:
    flags = await imap.flags(address)
    return bool(flags) and all({PROCESSED, "\\Seen"} <= f for f in flags.values())


# --- the admin API ----------------------------------------------------------------------


async def test_mailboxes_api(setup: Setup) -> None:
    client, admin = setup.world.client, setup.admin
    key = {"Idempotency-Key": uuid.uuid4().hex}
    address, box = await setup.mailbox(is_active=False)
    assert box["has_password"] is True and "password" not in box
    assert box["status"]["state"] == "inactive" and box["version"] == 1
    assert (box["folder"], box["unknown_senders"], box["poll_interval_seconds"]) == (
        "INBOX",
        "create_ticket",
        60,
    )
    got = await client.get(f"/mailboxes/{box['id']}", headers=admin)
    assert got.status_code == 200 and got.json()["name"] == box["name"]
    listed = await client.get("/mailboxes", params={"limit": 200}, headers=admin)
    assert box["id"] in [m["id"] for m in listed.json()["items"]]

    # The check connects now.
    await setup.imap.append(address, raw_mail("a@b.id", "x")[0])
    check = await client.post(f"/mailboxes/{box['id']}/check", headers=admin)
    assert check.status_code == 200, check.text
    assert check.json() == {"ok": True, "error": None, "message_count": 1}

    # Password kept when left out; a stale version refused; the name unique.
    patched = await client.patch(
        f"/mailboxes/{box['id']}",
        json={"poll_interval_seconds": 30, "version": 1},
        headers={**admin, **key},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2 and patched.json()["has_password"] is True
    assert (await client.post(f"/mailboxes/{box['id']}/check", headers=admin)).json()["ok"]
    stale = await client.patch(
        f"/mailboxes/{box['id']}",
        json={"poll_interval_seconds": 40, "version": 1},
        headers={**admin, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "version_mismatch"
    _, other = await setup.mailbox(is_active=False)
    taken = await client.patch(
        f"/mailboxes/{other['id']}",
        json={"name": box["name"]},
        headers={**admin, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "mailbox_name_taken"

    # A wrong password: the check says so.
    wrong = await client.patch(
        f"/mailboxes/{box['id']}",
        json={"password": "salah"},
        headers={**admin, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert wrong.status_code == 200
    failed = (await client.post(f"/mailboxes/{box['id']}/check", headers=admin)).json()
    assert failed["ok"] is False and failed["error"] and failed["message_count"] is None
    # The server's answer as text, not imaplib's bytes ("b'[AUTHENTICATIONFAILED] ...'").
    assert "AUTHENTICATIONFAILED" in failed["error"] and "b'" not in failed["error"]

    deleted = await client.delete(
        f"/mailboxes/{box['id']}", headers={**admin, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert deleted.status_code == 204
    assert (await client.get(f"/mailboxes/{box['id']}", headers=admin)).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"port": "993x"}, "port"),
        ({"port": 0}, "port"),
        ({"port": True}, "port"),
        ({"security": "pop3"}, "security"),
        ({"host": "mail example.com"}, "host"),
        ({"host": "a\u0000b"}, "host"),
        ({"folder": 'IN"BOX'}, "folder"),
        ({"unknown_senders": "ignore"}, "unknown_senders"),
        ({"poll_interval_seconds": 5}, "poll_interval_seconds"),
        ({"password": ""}, "password"),
        ({"name": "x\u0000"}, "name"),
        ({"default_unit_id": str(uuid.uuid4())}, "default_unit_id"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_bad_input_is_refused_with_its_field(
    setup: Setup, change: dict[str, Any], field: str
) -> None:
    body = {
        "name": f"Salah {uuid.uuid4().hex[:6]}",
        "host": "127.0.0.1",
        "username": "u",
        "password": "p",
        "default_unit_id": str(setup.unit_id),
        "default_category_id": str(uuid.uuid4()),
        **change,
    }
    response = await setup.world.client.post(
        "/mailboxes", json=body, headers={**setup.admin, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 422, response.text
    fields = [f["field"] for f in response.json()["error"]["fields"]]
    assert any(f.endswith(field) for f in fields), response.json()
    listed = await setup.world.client.get("/mailboxes", params={"limit": 200}, headers=setup.admin)
    assert body["name"] not in [m["name"] for m in listed.json()["items"]]


async def test_only_administrators(setup: Setup) -> None:
    agent = await setup.world.person("agent")
    assert (await setup.world.client.get("/mailboxes", headers=agent.headers)).status_code == 403
    assert (await setup.world.client.get("/mailboxes")).status_code == 401


# --- mail to tickets ----------------------------------------------------------------------


async def test_known_sender_reply_threading_and_reopen(setup: Setup) -> None:
    sender = f"rina.{uuid.uuid4().hex[:6]}@example.go.id"
    requester = await setup.user(email=sender, name="Rina Wati")
    address, box = await setup.mailbox()
    first, first_id = raw_mail(
        f"Rina <{sender.upper()}>", "Printer di ruang rapat macet", b"Kertas tersangkut."
    )
    await setup.imap.append(address, first)
    (row,) = await setup.log(box["id"], 1)
    assert row["outcome"] == "ticket" and row["message_id"] == first_id
    assert row["from_address"] == sender
    ticket_id = uuid.UUID(row["ticket_id"])
    stored = await setup.tickets.ticket(ticket_id)
    assert stored["requester_id"] == requester and stored["channel"] == "email"
    assert stored["title"] == "Printer di ruang rapat macet"
    assert stored["number"] == row["ticket_number"]
    await eventually(lambda: all_processed(setup.imap, address), timeout=10)

    # Replies: by the notifications' thread id, by In-Reply-To our log knows, by the number.
    by_reference, _ = raw_mail(
        sender,
        "Re: Printer",
        b"Sudah dicoba.\r\n\r\nOn Fri, 4 Dec 2026, Helpdesk <h@x> wrote:\r\n> Coba restart\r\n",
        headers=f"References: <ticket-{ticket_id}@helpdesk.local>\r\n",
    )
    by_in_reply_to, _ = raw_mail(
        sender, "Re: Printer", b"Masih macet.", headers=f"In-Reply-To: <{first_id}>\r\n"
    )
    by_number, _ = raw_mail(sender, f"Re: [{row['ticket_number']}] Printer", b"Tolong dicek.")
    for raw in (by_reference, by_in_reply_to, by_number):
        await setup.imap.append(address, raw)
    rows = await setup.log(box["id"], 4, poke=True)
    assert [r["outcome"] for r in rows] == ["ticket", "comment", "comment", "comment"]
    assert {r["ticket_id"] for r in rows} == {str(ticket_id)}
    comments = await setup.tickets.comments(ticket_id)
    assert comments[-3:] == ["Sudah dicoba.", "Masih macet.", "Tolong dicek."]

    # A resolved ticket is reopened by a reply.
    await setup.tickets.act(ticket_id, "claim")
    await setup.tickets.act(ticket_id, "resolve", result_summary="Rol dibersihkan")
    assert (await setup.tickets.ticket(ticket_id))["status"] == "resolved"
    again, _ = raw_mail(sender, f"Re: [{row['ticket_number']}] Printer", b"Macet lagi.")
    await setup.imap.append(address, again)
    rows = await setup.log(box["id"], 5, poke=True)
    assert rows[-1]["outcome"] == "comment" and rows[-1]["reason"] == "reopened"
    assert (await setup.tickets.ticket(ticket_id))["status"] != "resolved"


async def test_automatic_mail_is_ignored(setup: Setup) -> None:
    sender = f"auto.{uuid.uuid4().hex[:6]}@example.go.id"
    await setup.user(email=sender, name="Auto")
    address, box = await setup.mailbox()
    report = (
        b"--r\r\nContent-Type: text/plain\r\n\r\nDelivery failed\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--r--\r\n"
    )
    mails = [
        raw_mail(sender, "Out of office", headers="Auto-Submitted: auto-replied\r\n")[0],
        raw_mail(
            "MAILER-DAEMON@mx.example.com",
            "Undelivered",
            report,
            content_type='multipart/report; report-type=delivery-status; boundary="r"',
        )[0],
        raw_mail(sender, "Newsletter", headers="Precedence: bulk\r\n")[0],
        raw_mail(sender, "Milis", headers="List-Id: <milis.example.org>\r\n")[0],
        raw_mail("Helpdesk <helpdesk@localhost>", "[TKT] Tiket dibuat")[0],
    ]
    for raw in mails:
        await setup.imap.append(address, raw)
    rows = await setup.log(box["id"], 5)
    assert [r["outcome"] for r in rows] == ["ignored"] * 5
    # Different senders are processed side by side: the log's order is not the mailbox's.
    assert sorted(r["reason"] for r in rows) == sorted(
        [
            "auto_submitted:auto-replied",
            "bounce",
            "precedence:bulk",
            "mailing_list",
            "own_mail",
        ]
    )
    assert all(r["ticket_id"] is None for r in rows)
    await eventually(lambda: all_processed(setup.imap, address), timeout=10)
    ignored = await setup.world.client.get(
        f"/mailboxes/{box['id']}/messages", params={"outcome": "ticket"}, headers=setup.admin
    )
    assert ignored.json()["items"] == []


async def test_bad_charset_and_html_only(setup: Setup) -> None:
    sender = f"sari.{uuid.uuid4().hex[:6]}@example.go.id"
    await setup.user(email=sender, name="Sari")
    address, box = await setup.mailbox()
    text = "Aplikasi café gagal dibuka, muncul tanda € dan « erreur ». Mohon dibantu segera."
    wrong, _ = raw_mail(
        sender,
        "=?utf-8?B?" + base64.b64encode("Aplikasi ✓ gagal".encode()).decode() + "?=",
        text.encode("windows-1252"),
        content_type="text/plain; charset=utf-8",
    )
    html, _ = raw_mail(
        sender,
        "HTML saja",
        b"<html><head><script>alert(1)</script><style>p{}</style></head>"
        b"<body><p>Layar <b>biru</b> di PC-07</p></body></html>",
        content_type="text/html; charset=utf-8",
    )
    await setup.imap.append(address, wrong)
    await setup.imap.append(address, html)
    rows = await setup.log(box["id"], 2)
    assert [r["outcome"] for r in rows] == ["ticket", "ticket"]
    first = await setup.tickets.ticket(uuid.UUID(rows[0]["ticket_id"]))
    assert first["title"] == "Aplikasi ✓ gagal" and first["description"] == text
    second = await setup.tickets.ticket(uuid.UUID(rows[1]["ticket_id"]))
    assert second["description"] == "Layar biru di PC-07"


async def test_unknown_sender_create_ticket(setup: Setup) -> None:
    address, box = await setup.mailbox(unknown_senders="create_ticket")
    stranger = f"warga.{uuid.uuid4().hex[:6]}@gmail.example"
    await setup.imap.append(address, raw_mail(f"Warga Kota <{stranger}>", "Izin usaha")[0])
    (row,) = await setup.log(box["id"], 1)
    assert row["outcome"] == "ticket" and row["reason"] == "unknown_sender"
    stored = await setup.tickets.ticket(uuid.UUID(row["ticket_id"]))
    assert stored["requester_id"] is None and stored["contact_email"] == stranger
    assert stored["unit_id"] == setup.unit_id
    assert stored["created_by_name"] == f"Warga Kota <{stranger}>"


async def test_unknown_sender_reply_once(setup: Setup) -> None:
    address, box = await setup.mailbox(unknown_senders="reply_once")
    stranger = f"asing.{uuid.uuid4().hex[:6]}@gmail.example"
    for subject in ("Pertama", "Kedua"):
        await setup.imap.append(address, raw_mail(stranger, subject)[0])
    rows = await setup.log(box["id"], 2)
    assert [(r["outcome"], r["ticket_id"]) for r in rows] == [("refused", None)] * 2
    async with setup.world.runtime.sessionmaker() as session:
        events = (
            await session.execute(
                sa.text(
                    "SELECT body FROM outbox WHERE event_type = 'intake.sender_refused'"
                    " AND body LIKE :a"
                ),
                {"a": f"%{stranger}%"},
            )
        ).all()
    assert len(events) == 1, "answered once per address and mailbox"
    assert '"subject":"Pertama"' in events[0][0]


async def test_throttle(setup: Setup) -> None:
    sender = f"banjir.{uuid.uuid4().hex[:6]}@example.go.id"
    await setup.user(email=sender, name="Banjir")
    address, box = await setup.mailbox()
    for index in range(THROTTLE + 2):
        await setup.imap.append(address, raw_mail(sender, f"Permintaan {index}")[0])
    rows = await setup.log(box["id"], THROTTLE + 2)
    assert [r["outcome"] for r in rows] == ["ticket"] * THROTTLE + ["throttled"] * 2


class FailingStore(ImapSession):
    """The IMAP server is real; only marking fails, once per process (a crash between the
    commit and the marking)."""

    failures = 1

    def mark_processed(self, uid: int) -> None:
        if FailingStore.failures > 0:
            FailingStore.failures -= 1
            raise ImapError("store failed: connection lost")
        super().mark_processed(uid)


async def test_crash_between_processing_and_marking_makes_nothing_twice(setup: Setup) -> None:
    sender = f"crash.{uuid.uuid4().hex[:6]}@example.go.id"
    await setup.user(email=sender, name="Crash")
    # Inactive: the service's own poller leaves it alone; the test polls by hand.
    address, box = await setup.mailbox(is_active=False)
    mailbox_id = uuid.UUID(box["id"])
    title = f"Jaringan putus {uuid.uuid4().hex[:6]}"
    await setup.imap.append(address, raw_mail(sender, title)[0])
    await poll_mailbox(setup.world.runtime, mailbox_id, owner="t", session_factory=FailingStore)
    assert await setup.tickets.count_titled(title) == 1
    assert PROCESSED not in next(iter((await setup.imap.flags(address)).values()))
    status = (await setup.world.client.get(f"/mailboxes/{box['id']}", headers=setup.admin)).json()
    assert status["status"]["consecutive_failures"] == 1
    await poll_mailbox(setup.world.runtime, mailbox_id, owner="t")
    assert await all_processed(setup.imap, address)
    assert await setup.tickets.count_titled(title) == 1
    assert len(await setup.log(box["id"], 1)) == 1

    # A crash after the ticket was made but before the log row: the same source key again.
    title2 = f"Server mati {uuid.uuid4().hex[:6]}"
    raw, message_id = raw_mail(sender, title2)
    made = await tickets_api.create_ticket(
        setup.world.runtime,
        source_key=source_key(mailbox_id, message_id),
        channel="email",
        requester_id=None,
        unit_id=setup.unit_id,
        category_id=setup.tickets.category_id,
        title=title2,
        description="isi",
        sender_name=sender,
        contact_email=sender,
    )
    await setup.imap.append(address, raw)
    await poll_mailbox(setup.world.runtime, mailbox_id, owner="t")
    rows = await setup.log(box["id"], 2)
    assert rows[-1]["ticket_id"] == str(made.ticket_id)
    assert await setup.tickets.count_titled(title2) == 1


async def test_unreachable_mailbox_backs_off_and_a_change_applies(setup: Setup) -> None:
    sender = f"lambat.{uuid.uuid4().hex[:6]}@example.go.id"
    await setup.user(email=sender, name="Lambat")
    address, box = await setup.mailbox(port=free_port())
    await setup.imap.append(address, raw_mail(sender, "Tertunda")[0])

    async def failing(times: int) -> dict[str, Any] | None:
        got = await setup.world.client.get(f"/mailboxes/{box['id']}", headers=setup.admin)
        status: dict[str, Any] = got.json()["status"]
        return status if status["consecutive_failures"] >= times else None

    status = await eventually(lambda: failing(2), timeout=15)
    assert status["state"] == "failing" and status["failing_since"] and status["last_error"]
    polled = datetime.fromisoformat(status["last_polled_at"])
    waited = datetime.fromisoformat(status["next_attempt_at"]) - polled
    assert waited >= timedelta(seconds=1.9)  # 1 s doubled
    metrics = (await setup.world.client.get("/metrics")).text
    label = f'mailbox="{box["name"]}"'
    assert f"integrations_mailbox_up{{{label}}} 0.0" in metrics
    assert f"integrations_mailbox_failures_total{{{label}}}" in metrics

    # The administrator fixes the port: applies without a restart.
    fixed = await setup.world.client.patch(
        f"/mailboxes/{box['id']}",
        json={"port": setup.imap.port},
        headers={**setup.admin, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert fixed.status_code == 200
    (row,) = await setup.log(box["id"], 1)
    assert row["outcome"] == "ticket"

    async def recovered() -> dict[str, Any] | None:
        # The poll records its success after the batch's mails, so a moment after the log row.
        response = await setup.world.client.get(f"/mailboxes/{box['id']}", headers=setup.admin)
        status: dict[str, Any] = response.json()["status"]
        return status if status["state"] == "ok" else None

    status = await eventually(recovered, timeout=10)
    assert status["state"] == "ok" and status["consecutive_failures"] == 0
    metrics = (await setup.world.client.get("/metrics")).text
    assert f"integrations_mailbox_up{{{label}}} 1.0" in metrics
    assert 'integrations_mail_messages_total{outcome="ticket"}' in metrics


async def test_several_pollers_make_each_ticket_once(setup: Setup) -> None:
    """Two more pollers (as other replicas) on the same database: each mail once."""
    sender = f"ramai.{uuid.uuid4().hex[:6]}@example.go.id"
    await setup.user(email=sender, name="Ramai")
    address, box = await setup.mailbox(is_active=False)
    titles = [f"Paralel {i} {uuid.uuid4().hex[:4]}" for i in range(THROTTLE)]
    for title in titles:
        await setup.imap.append(address, raw_mail(sender, title)[0])
    mailbox_id = uuid.UUID(box["id"])
    await asyncio.gather(
        *(poll_mailbox(setup.world.runtime, mailbox_id, owner=f"r{i}") for i in range(3))
    )
    for title in titles:
        assert await setup.tickets.count_titled(title) == 1
    rows = await setup.log(box["id"], THROTTLE)
    assert len(rows) == THROTTLE and await all_processed(setup.imap, address)


def test_account_security_values() -> None:
    account = ImapAccount("h", 1, "none", "u", "p", "INBOX")
    assert account.timeout == 30.0


def test_mailbox_routes_declare_their_input_rules(world: World) -> None:
    found = unguarded_inputs(world.app.openapi())
    assert [entry for entry in found if "/mailboxes" in entry] == []


async def test_files_without_an_attachments_service_are_counted_refused(setup: Setup) -> None:
    sender = f"berkas.{uuid.uuid4().hex[:6]}@example.go.id"
    await setup.user(email=sender, name="Berkas")
    address, box = await setup.mailbox()
    body = (
        b"--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLihat lampiran.\r\n"
        b"--m\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''Laporan%20%C3%BCbersicht.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"%PDF-1.4 test")
        + b"--m--\r\n"
    )
    raw, _ = raw_mail(sender, "Dengan lampiran", body, content_type='multipart/mixed; boundary="m"')
    await setup.imap.append(address, raw)
    (row,) = await setup.log(box["id"], 1)
    assert row["outcome"] == "ticket"
    assert (row["attachments_stored"], row["attachments_refused"]) == (0, 1)
    stored = await setup.tickets.ticket(uuid.UUID(row["ticket_id"]))
    assert stored["description"] == "Lihat lampiran."


async def test_tickets_service_down_marks_nothing_and_retries_soon(
    make_settings: Callable[..., Any], make_token: Callable[..., str], imap_server: ImapServer
) -> None:
    # Its own service whose tickets URL answers nothing (the conftest's default).
    async with running_integrations(
        make_settings, make_token, mail_tick_seconds=0.1, mail_service_retry_seconds=1.0
    ) as down:
        admin = await down.person("admin")
        unit_id = await down.unit()
        address = f"hd{uuid.uuid4().hex[:10]}@example.com"
        imap_server.add_user(address, "rahasia-imap")
        await imap_server.append(address, raw_mail("a@b.id", "Tiket saat layanan mati")[0])
        created = await down.client.post(
            "/mailboxes",
            json={
                "name": "Kotak mati",
                "host": imap_server.host,
                "port": imap_server.port,
                "security": "none",
                "username": address,
                "password": "rahasia-imap",
                "default_unit_id": str(unit_id),
                "default_category_id": str(uuid.uuid4()),
            },
            headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert created.status_code == 201, created.text
        box = created.json()

        async def failing() -> dict[str, Any] | None:
            got = await down.client.get(f"/mailboxes/{box['id']}", headers=admin.headers)
            status: dict[str, Any] = got.json()["status"]
            return status if status["consecutive_failures"] >= 1 else None

        status = await eventually(failing, timeout=15)
        assert "tickets service unreachable" in status["last_error"]
        waited = datetime.fromisoformat(status["next_attempt_at"]) - datetime.fromisoformat(
            status["last_polled_at"]
        )
        assert waited <= timedelta(seconds=2)  # the service's short retry, not the 30 s
        assert all(PROCESSED not in f for f in (await imap_server.flags(address)).values())
        log = await down.client.get(f"/mailboxes/{box['id']}/messages", headers=admin.headers)
        assert log.json()["items"] == []


async def test_the_mail_migration_matches_the_models(world: World) -> None:
    async with world.runtime.engine.connect() as connection:
        diff = await connection.run_sync(model_differences, metadata)
    assert [d for d in diff if "mail_" in repr(d)] == []
