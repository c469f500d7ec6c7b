"""Events through the real broker into the read model, and the figures over HTTP.

Each test uses units of its own, so the figures it reads are its tickets' only.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

from helpdesk_common.contracts.tickets import (
    TicketAssigned,
    TicketReopened,
    TicketResolved,
    TicketSlaBreached,
    TicketStatusChanged,
    TicketUpdated,
)
from helpdesk_testing import eventually, serve_http
from reports.main import create_app
from reports.readmodel.histogram import PREFIXES
from reports.readmodel.projection import FACT_COLUMNS, MEASURES, Fact, contributions
from reports.readmodel.rollups import ROLLUPS

from .conftest import SYSTEM, Reports, snapshot

JAKARTA = ZoneInfo("Asia/Jakarta")


def local(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=JAKARTA).astimezone(UTC)


async def summary(reports: Reports, **params: Any) -> dict[str, Any]:
    return await reports.get("/summary", **params)


async def test_an_event_is_projected_once_and_an_older_one_never_wins(reports: Reports) -> None:
    unit = await reports.unit("Dinas Pendidikan")
    ticket = snapshot(unit_id=unit, created_at=local(2, 9))
    resolved = ticket.model_copy(
        update={
            "status": "resolved",
            "version": 3,
            "first_response_at": local(2, 10),
            "first_response_seconds": 3600,
            "resolved_at": local(2, 13),
            "resolution_seconds": 4 * 3600,
            "result_summary": "Toner diganti",
        }
    )
    event_id = uuid.uuid4()
    await reports.ticket(ticket)
    # The newer state first, then the same event twice more and an older version.
    await reports.publish(
        TicketResolved(ticket=resolved, actor=SYSTEM, result_summary="Toner diganti"),
        event_id=event_id,
    )
    await reports.publish(
        TicketResolved(ticket=resolved, actor=SYSTEM, result_summary="Toner diganti"),
        event_id=event_id,
    )
    older = ticket.model_copy(update={"status": "in_progress", "version": 2})
    await reports.publish(
        TicketStatusChanged(ticket=older, actor=SYSTEM, from_status="new", to_status="in_progress")
    )
    await reports.processed()

    figures = await summary(reports, unit_id=unit, **{"from": "2026-03-02", "to": "2026-03-02"})
    f = figures["figures"]
    assert f["created"] == 1
    assert f["resolved"] == 1
    assert f["by_status"]["resolved"] == 1
    assert f["by_status"]["in_progress"] == 0
    assert f["first_response"]["mean_seconds"] == 3600
    assert f["resolution"]["median_seconds"] == 4 * 3600
    assert figures["open_now"] == 0


async def test_an_edit_moves_the_ticket_in_the_figures(reports: Reports) -> None:
    """``ticket.updated`` (an agent raised the priority) reaches the read model."""
    unit = await reports.unit("Dinas Perhubungan")
    ticket = snapshot(unit_id=unit, created_at=local(4, 9))
    await reports.ticket(ticket)
    raised = ticket.model_copy(update={"priority": "high", "version": 2})
    await reports.publish(TicketUpdated(ticket=raised, actor=SYSTEM, fields=["priority"]))
    await reports.processed()

    period = {"unit_id": unit, "from": "2026-03-04", "to": "2026-03-04"}
    assert (await summary(reports, priority="high", **period))["figures"]["created"] == 1
    assert (await summary(reports, priority=ticket.priority, **period))["figures"]["created"] == 0


async def test_sla_stamps_merge_whatever_the_order(reports: Reports) -> None:
    """The scheduler's breach comes without a new version: it is merged, never lost."""
    unit = await reports.unit("Dinas Kesehatan")
    base = snapshot(
        unit_id=unit,
        created_at=local(3, 9),
        first_response_due_at=local(3, 11),
        resolution_due_at=local(4, 9),
    )
    breached = base.model_copy(update={"first_response_breached_at": local(3, 11, 1)})
    # The claim (version 2) overtakes the breach event (still version 1).
    claimed = breached.model_copy(
        update={
            "version": 2,
            "status": "in_progress",
            "first_response_breached_at": None,  # a replica's snapshot before the stamp
            "first_response_at": local(3, 12),
            "first_response_seconds": 3 * 3600,
        }
    )
    await reports.ticket(base)
    await reports.publish(
        TicketStatusChanged(
            ticket=claimed, actor=SYSTEM, from_status="new", to_status="in_progress"
        )
    )
    await reports.processed()
    await reports.publish(
        TicketSlaBreached(
            ticket=breached, actor=SYSTEM, target="first_response", due_at=local(3, 11)
        )
    )
    await reports.processed()
    f = (await summary(reports, unit_id=unit, **{"from": "2026-03-03", "to": "2026-03-03"}))[
        "figures"
    ]
    assert f["sla_first_response"] == {"met": 0, "breached": 1, "compliance_percent": 0.0}
    assert f["by_status"]["in_progress"] == 1


async def test_rollups_equal_the_sum_of_the_facts(reports: Reports) -> None:
    """After many changes in any order, every rollup row is what its tickets contribute."""
    unit = await reports.unit("Dinas Perhubungan")
    agent = await reports.agent("Budi Agen")
    tickets = [
        snapshot(unit_id=unit, created_at=local(5 + i % 20, 9 + i % 7), priority=p)
        for i, p in enumerate(["low", "medium", "high", "critical"] * 5)
    ]
    for t in tickets:
        await reports.ticket(t)
    for i, t in enumerate(tickets):
        assigned = t.model_copy(
            update={
                "version": 2,
                "assignee_id": agent,
                "assignee_name": "Budi Agen",
                "status": "in_progress",
            }
        )
        done = assigned.model_copy(
            update={
                "version": 3,
                "status": "resolved" if i % 3 else "rejected",
                "resolved_at": t.created_at + timedelta(hours=30) if i % 3 else None,
                "resolution_seconds": 8 * 3600 if i % 3 else None,
                "updated_at": t.created_at + timedelta(hours=30),
            }
        )
        reopened = done.model_copy(
            update={
                "version": 4,
                "status": "in_progress",
                "resolved_at": None,
                "resolution_seconds": None,
                "reopen_count": 1,
            }
        )
        events = [
            TicketAssigned(
                ticket=assigned, actor=SYSTEM, assignee_id=agent, assignee_name="Budi Agen"
            ),
            TicketResolved(ticket=done, actor=SYSTEM, result_summary="ok"),
        ]
        if i % 4 == 1:
            events.append(TicketReopened(ticket=reopened, actor=SYSTEM, reason="belum"))
        # Deliberately out of order.
        for event in reversed(events):
            await reports.publish(event)
    await reports.processed()

    runtime = reports.app.state.runtime
    async with runtime.sessionmaker() as session:
        facts = [
            Fact(**{c: row[c] for c in FACT_COLUMNS})
            for row in (
                await session.execute(
                    sa.text(
                        f"SELECT {', '.join(FACT_COLUMNS)} FROM ticket_facts WHERE generation = 1"
                    )
                )
            ).mappings()
        ]
        for rollup in ROLLUPS:
            expected: dict[tuple[object, ...], Counter[str]] = {}
            for fact in facts:
                for key, measures in contributions(fact, timezone=JAKARTA).items():
                    expected.setdefault(rollup.key(key), Counter()).update(measures)
            columns = [rollup.grain, *rollup.dimensions]
            rows = await session.execute(
                sa.text(
                    f"SELECT {', '.join(columns + list(MEASURES))} FROM {rollup.table}"
                    " WHERE generation = 1"
                )
            )
            actual = {
                tuple(row[c] for c in columns): Counter({m: row[m] for m in MEASURES if row[m]})
                for row in rows.mappings()
            }
            actual = {k: v for k, v in actual.items() if v}
            expected = {
                k: Counter({m: v for m, v in c.items() if v and m in MEASURES})
                for k, c in expected.items()
            }
            assert actual == {k: v for k, v in expected.items() if v}, rollup.table
        # The duration histograms, every ticket's kind ("all"), likewise.
        wanted: Counter[tuple[str, date, int]] = Counter()
        for fact in facts:
            for key, measures in contributions(fact, timezone=JAKARTA).items():
                for measure, count in measures.items():
                    for metric, prefix in PREFIXES.items():
                        if measure.startswith(prefix):
                            bucket = int(measure.removeprefix(prefix))
                            wanted[metric, key[0].replace(day=1), bucket] += count
        rows = await session.execute(
            sa.text(
                "SELECT metric, month, bucket, n FROM duration_histogram"
                " WHERE generation = 1 AND kind = 'all' AND n <> 0"
            )
        )
        assert Counter({(r[0], r[1], r[2]): r[3] for r in rows}) == +wanted

    f = (await summary(reports, unit_id=unit, **{"from": "2026-03-01", "to": "2026-03-31"}))[
        "figures"
    ]
    assert f["created"] == 20
    resolved_now = sum(1 for i in range(20) if i % 3 and i % 4 != 1)
    assert f["by_status"]["resolved"] == resolved_now
    assert f["rejected"] == sum(1 for i in range(20) if not i % 3 and i % 4 != 1)


async def test_bad_input_is_a_422_naming_the_field(reports: Reports) -> None:
    headers = reports.headers("leader")
    cases = [
        ("/summary", {"from": "2026-03-10", "to": "2026-03-01"}, "to"),
        ("/summary", {"from": "2010-01-01", "to": "2026-03-01"}, "from"),
        ("/summary", {"unit_id": str(uuid.uuid4())}, "unit_id"),
        ("/summary", {"category_id": str(uuid.uuid4())}, "category_id"),
        ("/summary", {"agent_id": str(uuid.uuid4())}, "agent_id"),
        ("/summary", {"unit_id": "not-a-uuid"}, "unit_id"),
        ("/summary", {"from": "2026-02-30"}, "from"),
        ("/trend", {"group_by": "fortnight"}, "group_by"),
        ("/breakdown", {"by": "colour"}, "by"),
        ("/completed", {"cursor": "garbage"}, "cursor"),
    ]
    for path, params, field in cases:
        response = await reports.client.get(path, params=params, headers=headers)
        assert response.status_code == 422, (path, params, response.text)
        body = response.json()["error"]
        named = [f["field"] for f in body.get("fields", [])] + [body.get("field")]
        assert any(field == (n or "").split(".")[-1] for n in named), (params, body)


async def test_a_requester_sees_only_their_own_unit(reports: Reports) -> None:
    own = await reports.unit("Kecamatan Utara")
    other = await reports.unit("Kecamatan Selatan")
    await reports.ticket(snapshot(unit_id=own, created_at=local(10, 9)))
    await reports.ticket(snapshot(unit_id=other, created_at=local(10, 9)))
    await reports.ticket(snapshot(unit_id=other, created_at=local(10, 10)))
    await reports.processed()
    token = reports.make_token("requester", unit_id=own)
    headers = {"Authorization": f"Bearer {token}"}
    period = {"from": "2026-03-10", "to": "2026-03-10"}
    mine = await reports.client.get("/summary", params=period, headers=headers)
    assert mine.status_code == 200
    assert mine.json()["figures"]["created"] == 1
    for path in ("/summary", "/trend", "/completed"):
        refused = await reports.client.get(
            path, params={**period, "unit_id": str(other)}, headers=headers
        )
        assert refused.status_code == 403, refused.text
        assert "created" not in refused.text
    by_unit = await reports.client.get(
        "/breakdown", params={**period, "by": "unit"}, headers=headers
    )
    assert [row["key"] for row in by_unit.json()["rows"]] == [str(own)]


async def test_the_stream_tells_a_dashboard_of_a_change(reports: Reports) -> None:
    """A second replica, over real HTTP: it hears of the change whichever replica projected
    it (PostgreSQL LISTEN/NOTIFY), and a requester hears only of their own unit."""
    unit = await reports.unit("Dinas Sosial")
    other = await reports.unit("Dinas Pariwisata")
    replica = create_app(reports.settings)
    async with (
        serve_http(replica) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        # Once its LISTEN connection is up the replica tells every stream to refresh (what
        # changed while it was not listening is unknown): wait for that before watching, or
        # on a loaded machine the requester's stream hears it as a change.
        await eventually(lambda: replica.state.runtime.changes.seq >= 1)

        async def first_change(headers: dict[str, str], lines: list[str]) -> None:
            async with client.stream("GET", "/stream", headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                async for line in response.aiter_lines():
                    lines.append(line)
                    if line == "event: changed":
                        return

        leader: list[str] = []
        requester: list[str] = []
        watching = [
            asyncio.create_task(first_change(reports.headers("leader"), leader)),
            asyncio.create_task(
                first_change(reports.headers("requester", unit_id=unit), requester)
            ),
        ]
        await eventually(lambda: "event: ready" in leader and "event: ready" in requester)
        await reports.ticket(snapshot(unit_id=other, created_at=local(11, 9)))
        await asyncio.wait_for(watching[0], timeout=10)
        await asyncio.sleep(0.5)
        assert "event: changed" not in requester  # another unit's ticket
        await reports.ticket(snapshot(unit_id=unit, created_at=local(11, 10)))
        await asyncio.wait_for(watching[1], timeout=10)
