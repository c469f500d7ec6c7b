"""Hostile input is a 422 naming the field, never a 500 (issue 13): a NUL in a file name or a
kind in the query (a multipart file name is cleaned of control characters instead:
test_content_names), cursors past what the database takes; and every input of the OpenAPI
document declares it."""

from __future__ import annotations

import uuid

from attachments.files.ranges import requested_range
from helpdesk_common.inputs import NUL_MESSAGE
from helpdesk_common.pagination import encode_cursor
from helpdesk_testing.inputs import refused, unguarded_inputs

from .conftest import png_bytes


def test_every_input_of_the_openapi_document_is_guarded(world) -> None:
    assert unguarded_inputs(world.app.openapi()) == []


async def test_nul_in_the_query_of_an_upload_is_refused(world) -> None:
    unit_id = uuid.uuid4()
    requester = world.person("requester", unit_id=unit_id)
    ticket_id = await world.ticket(unit_id=unit_id)
    for params, field in (({"filename": "bukti\x00.png"}, "filename"), ({"kind": "\x00"}, "kind")):
        response = await world.client.post(
            f"/tickets/{ticket_id}/attachments",
            content=png_bytes(),
            params={"filename": "bukti.png", **params},
            headers=requester.headers,
        )
        refused(response, field, NUL_MESSAGE)
    listed = await world.client.get(f"/tickets/{ticket_id}/attachments", headers=requester.headers)
    assert listed.status_code == 200 and listed.json()["items"] == []


async def test_cursors_past_what_the_database_takes(world) -> None:
    unit_id = uuid.uuid4()
    requester = world.person("requester", unit_id=unit_id)
    ticket_id = await world.ticket(unit_id=unit_id)
    for at in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"):
        cursor = encode_cursor("attachments", at, str(uuid.uuid4()))
        response = await world.client.get(
            f"/tickets/{ticket_id}/attachments",
            params={"cursor": cursor},
            headers=requester.headers,
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_cursor"


def test_a_range_with_absurd_numbers_is_the_whole_file() -> None:
    # int() refuses more than 4,300 digits (a ValueError: was a 500); 19+ digits serve whole.
    assert requested_range("bytes=" + "9" * 5000 + "-", 100) is None
    assert requested_range("bytes=0-" + "9" * 19, 100) is None
    assert requested_range("bytes=0-" + "9" * 18, 100) == (0, 99)
    assert requested_range("bytes=10-19", 100) == (10, 19)
