"""The pure parts of helpdesk_common.idempotency: what counts as the same request, and which
keys are accepted (the store itself is tested through the services' apps)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from helpdesk_common.errors import ApiError
from helpdesk_common.idempotency import check_key, fingerprint


def of(
    body: bytes, *, path: str = "/tickets", query: bytes = b"", secrets: Iterable[str] = ()
) -> str:
    return fingerprint(method="POST", path=path, query=query, body=body, secrets=secrets)


def test_a_json_body_is_compared_canonically():
    assert of(b'{"a": 1, "b": [1, 2]}') == of(b'{"b":[1,2],"a":1}')
    assert of(b'{"a": 1}') != of(b'{"a": 2}')
    assert of(b'{"a": "\\u00e9"}') == of('{"a": "é"}'.encode())


def test_method_path_query_and_raw_bodies_count():
    assert of(b"{}") != of(b"{}", path="/tickets/1/claim")
    assert of(b"{}") != of(b"{}", query=b"x=1")
    assert of(b"{}") != fingerprint(method="PUT", path="/tickets", query=b"", body=b"{}")
    assert of(b"\x89PNG one") != of(b"\x89PNG two")
    # The parts are length-prefixed: moving bytes from the path into the query differs.
    assert of(b"", path="/ab", query=b"c") != of(b"", path="/a", query=b"bc")


def test_secret_fields_are_left_out():
    with_password = b'{"username": "budi", "password": "Rahasia-123"}'
    assert of(with_password, secrets={"password"}) == of(b'{"username": "budi"}')
    assert of(with_password, secrets={"password"}) != of(with_password)


@pytest.mark.parametrize("key", ["a", "550e8400-e29b-41d4-a716-446655440000", "x" * 200, "a b~"])
def test_keys_accepted(key: str):
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 201, "kunci\u00e9", "tab\there", "new\nline"])
def test_keys_refused(key: str):
    with pytest.raises(ApiError) as refused:
        check_key(key)
    assert (refused.value.status, refused.value.code) == (422, "invalid_idempotency_key")
    assert refused.value.field == "Idempotency-Key"
