"""Hostile input is a 422 naming the field, never a 500 (issue 13): NUL characters and lone
surrogates in any text, periods past what a time zone conversion reaches, integers past their
column, cursors carrying either; and every input of the OpenAPI document declares it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from helpdesk_common.contracts.identity import UserCreated
from helpdesk_common.directory import upsert_user
from helpdesk_common.inputs import INT4_MAX, NUL_MESSAGE, UNICODE_MESSAGE
from helpdesk_common.pagination import encode_cursor
from helpdesk_testing.inputs import refused, unguarded_inputs

SURROGATE = "a\ud800b"
PERIOD_ENDPOINTS = (
    "/summary",
    "/trend",
    "/breakdown",
    "/completed",
    "/export/summary.csv",
    "/export/summary.pdf",
)


async def send(reports: Any, method: str, path: str, body: Any) -> httpx.Response:
    """``body`` as JSON with non-ASCII escaped (a lone surrogate as its escape)."""
    return await reports.client.request(
        method,
        path,
        content=json.dumps(body),
        headers={**reports.headers("leader"), "Content-Type": "application/json"},
    )


def test_every_input_of_the_openapi_document_is_guarded(reports: Any) -> None:
    assert unguarded_inputs(reports.app.openapi()) == []


async def test_periods_out_of_range(reports: Any) -> None:
    headers = reports.headers("leader")
    for path in PERIOD_ENDPOINTS:
        for name, value in (("from", "0001-01-01"), ("to", "9999-12-31")):
            response = await reports.client.get(path, params={name: value}, headers=headers)
            refused(response, name)
        refused(await reports.client.get(f"{path}?priority=%00", headers=headers), "priority")
    # The ends of the range themselves are fine (a period of at most ten years).
    response = await reports.client.get(
        "/summary", params={"from": "2195-01-01", "to": "2200-12-31"}, headers=headers
    )
    assert response.status_code == 200, response.text


async def test_schedules_with_nul_surrogates_and_huge_versions(reports: Any) -> None:
    body = {
        "name": "Rekap mingguan",
        "report": "summary",
        "cadence": "weekly",
        "recipient_ids": [str(uuid.uuid4())],
    }
    for changed, field, message in (
        ({"name": "Rekap\x00"}, "name", NUL_MESSAGE),
        ({"name": SURROGATE}, "name", UNICODE_MESSAGE),
        ({"filters": {"priority": "high\x00"}}, "filters.priority", NUL_MESSAGE),
        ({"filters": {"channel": SURROGATE}}, "filters.channel", UNICODE_MESSAGE),
    ):
        refused(await send(reports, "POST", "/schedules", {**body, **changed}), field, message)
    path = f"/schedules/{uuid.uuid4()}"
    refused(await send(reports, "PATCH", path, {"version": INT4_MAX + 1}), "version")


async def recipient(reports: Any) -> uuid.UUID:
    """A leader with an address in the reports service's directory replica."""
    user_id = uuid.uuid4()
    async with reports.app.state.runtime.sessionmaker() as session, session.begin():
        await upsert_user(
            session,
            snapshot=UserCreated(
                user_id=user_id,
                username=f"leader{user_id.hex[:8]}",
                full_name="Pimpinan",
                email=f"leader-{user_id.hex[:8]}@example.test",
                role="leader",
                unit_id=None,
                is_active=True,
                revision=1,
                updated_at=datetime.now(UTC),
            ),
        )
    return user_id


async def test_cursors_carrying_what_the_database_cannot_take(reports: Any) -> None:
    leader = await recipient(reports)
    headers = reports.headers("leader", user_id=leader)
    created = await reports.client.post(
        "/schedules",
        json={
            "name": "Rekap",
            "report": "summary",
            "cadence": "weekly",
            "recipient_ids": [str(leader)],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    some_id = str(uuid.uuid4())
    for path, cursor in (
        ("/schedules", encode_cursor("report-schedules", "0001-01-01T00:00:00+14:00", some_id)),
        ("/completed", encode_cursor("completed", "9999-12-31T23:59:59-12:00", some_id)),
        (f"/schedules/{created.json()['id']}/runs", encode_cursor("report-runs", "0001-01-01")),
    ):
        response = await reports.client.get(path, params={"cursor": cursor}, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_cursor"
