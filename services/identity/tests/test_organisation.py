"""The organisation's identity (the documents' letterhead): defaults, changes by
administrators only, the logo checked by its bytes and by rendering it, the event in the
outbox and the audit log."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import struct
import uuid
import zlib
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.outbox import outbox_table
from helpdesk_documents.organisation import DEFAULT_NAME
from identity.organisation.logo import MAX_LOGO_BYTES, LogoRejected, inspect_logo
from identity.organisation.schemas import OrganisationUpdate

SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def _png(width: int = 2, height: int = 2) -> bytes:
    """A small PNG made by hand, so the test needs no imaging library."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        raw = kind + body
        return struct.pack(">I", len(body)) + raw + struct.pack(">I", zlib.crc32(raw))

    pixels = zlib.compress((b"\x00" + b"\x00\x66\xcc" * width) * height)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _svg(body: str = "", *, root_attributes: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<svg {SVG_NS} width="40" height="40" '
        f'viewBox="0 0 40 40" {root_attributes}>{body}</svg>'
    ).encode()


SAFE_SVG = _svg(
    '<defs><linearGradient id="g"><stop offset="0" stop-color="#06c"/></linearGradient></defs>'
    '<circle id="c" cx="20" cy="20" r="18" fill="url(#g)"/><use xlink:href="#c"/>'
    '<text x="4" y="24" style="font-size:8px">KOTA</text>'
)

FULL = {
    "name": "  Dinas Komunikasi dan Informatika  ",
    "parent_name": "Pemerintah Kota Bukittinggi",
    "address": "Jl. Sudirman No. 1, Bukittinggi",
    "phone": "(0752) 123456",
    "email": "diskominfo@bukittinggikota.go.id",
    "website": "https://bukittinggikota.go.id",
}


@pytest.fixture(scope="module")
async def api(start_identity):
    async with start_identity("identity_organisation") as api:
        yield api


async def organisation_events(api) -> list[dict[str, Any]]:
    """The payloads of the organisation.updated events in identity's outbox, oldest first."""
    async with api.app.state.runtime.sessionmaker() as session:
        bodies = await session.scalars(
            sa.select(outbox_table.c.body)
            .where(outbox_table.c.event_type == "organisation.updated")
            .order_by(outbox_table.c.position)
        )
        envelopes = [EventEnvelope.model_validate_json(body) for body in bodies]
    assert all(e.producer == "identity" for e in envelopes)
    return [e.payload for e in envelopes]


async def audit_entries(api, action: str) -> list[dict[str, Any]]:
    response = await api.client.get(
        "/audit-log",
        params={"entity_type": "organisation", "action": action},
        headers=await api.admin_headers(),
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def current(api) -> dict[str, Any]:
    response = await api.client.get("/organisation", headers=await api.admin_headers())
    assert response.status_code == 200, response.text
    return response.json()


async def put_logo(api, data: bytes, content_type: str = "image/png", headers=None):
    return await api.client.put(
        "/organisation/logo",
        content=data,
        headers={**(headers or await api.admin_headers()), "Content-Type": content_type},
    )


def error(response) -> dict[str, Any]:
    return response.json()["error"]


# -- reading ----------------------------------------------------------------------------------


async def test_the_defaults_before_an_administrator_saves_anything(start_identity, make_token):
    async with start_identity("identity_organisation_defaults") as api:
        requester = api.bearer(make_token("requester", unit_id=uuid.uuid4()))
        response = await api.client.get("/organisation", headers=requester)
        assert response.status_code == 200
        assert response.json() == {
            "name": DEFAULT_NAME,
            "parent_name": None,
            "address": None,
            "phone": None,
            "email": None,
            "website": None,
            "has_logo": False,
            "logo_media_type": None,
            "revision": 0,
            "updated_at": None,
        }
        assert DEFAULT_NAME == "Layanan Helpdesk TIK"
        logo = await api.client.get("/organisation/logo", headers=requester)
        assert logo.status_code == 404
        assert error(logo)["code"] == "no_logo"
        # Removing a logo that was never set saves nothing.
        removed = await api.client.delete("/organisation/logo", headers=await api.admin_headers())
        assert removed.status_code == 200
        assert removed.json()["revision"] == 0
        assert await organisation_events(api) == []
        assert (await api.client.get("/organisation")).status_code == 401


# -- changing the text ------------------------------------------------------------------------


async def test_an_administrator_saves_the_identity_published_and_audited(api, make_token):
    before = await current(api)
    response = await api.client.put("/organisation", json=FULL, headers=await api.admin_headers())
    assert response.status_code == 200, response.text
    saved = response.json()
    assert saved["name"] == "Dinas Komunikasi dan Informatika"  # trimmed
    assert saved["email"] == FULL["email"] and saved["website"] == FULL["website"]
    assert saved["revision"] == before["revision"] + 1
    assert saved["updated_at"] is not None
    # Everyone signed in reads the same.
    agent = api.bearer(make_token("agent"))
    assert (await api.client.get("/organisation", headers=agent)).json() == saved

    # The same body again changes nothing: no new revision, event or audit entry.
    again = await api.client.put("/organisation", json=FULL, headers=await api.admin_headers())
    assert again.json()["revision"] == saved["revision"]

    # A PUT replaces: what is left out is cleared; blank optional lines mean none.
    cleared = await api.client.put(
        "/organisation",
        json={"name": "Diskominfo", "parent_name": "   ", "email": "", "website": None},
        headers=await api.admin_headers(),
    )
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert (body["name"], body["parent_name"], body["address"], body["website"]) == (
        "Diskominfo",
        None,
        None,
        None,
    )
    assert body["email"] is None
    assert body["revision"] == saved["revision"] + 1

    events = await organisation_events(api)
    by_revision = {e["revision"]: e for e in events}
    assert [e["revision"] for e in events][-2:] == [saved["revision"], body["revision"]]
    assert by_revision[saved["revision"]]["name"] == "Dinas Komunikasi dan Informatika"
    assert by_revision[saved["revision"]]["parent_name"] == "Pemerintah Kota Bukittinggi"
    assert by_revision[body["revision"]]["parent_name"] is None

    entries = await audit_entries(api, "organisation.updated")
    newest = entries[0]
    me = (await api.client.get("/auth/me", headers=await api.admin_headers())).json()
    assert (newest["entity_id"], newest["actor_id"]) == ("1", me["id"])
    assert newest["before"]["name"] == "Dinas Komunikasi dan Informatika"
    assert newest["after"]["name"] == "Diskominfo"
    assert newest["after"]["revision"] == body["revision"]
    assert len([e for e in entries if e["after"]["revision"] == saved["revision"]]) == 1


async def test_concurrent_first_saves_take_turns(start_identity):
    """Before the first save there is no row to lock: saves still queue, none is lost."""
    async with start_identity("identity_organisation_race") as api:
        admin = await api.admin_headers()
        responses = await asyncio.gather(
            *(
                api.client.put("/organisation", json={"name": f"Dinas {i}"}, headers=admin)
                for i in range(4)
            ),
            put_logo(api, _png(), headers=admin),
        )
        assert [r.status_code for r in responses] == [200] * 5
        assert sorted(r.json()["revision"] for r in responses) == [1, 2, 3, 4, 5]
        events = await organisation_events(api)
        assert sorted(e["revision"] for e in events) == [1, 2, 3, 4, 5]
        final = await current(api)
        assert (final["revision"], final["has_logo"]) == (5, True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": None}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "budi@@example"}, "email"),
        ({"website": "ftp://bukittinggikota.go.id"}, "website"),
        ({"website": "bukittinggikota.go.id"}, "website"),
        ({"website": "https://" + "a" * 200 + ".id"}, "website"),
        ({"parent_name": "x" * 201}, "parent_name"),
        ({"address": "x" * 501}, "address"),
        ({"phone": "1" * 51}, "phone"),
        ({"logo": "AAAA"}, "logo"),
    ],
)
async def test_validation_names_the_field(api, change, field):
    body = {k: v for k, v in {**FULL, **change}.items() if v is not None}
    before = await current(api)
    response = await api.client.put("/organisation", json=body, headers=await api.admin_headers())
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "validation_error"
    assert field in [f["field"] for f in error(response)["fields"]]
    assert (await current(api))["revision"] == before["revision"]


async def test_only_administrators_change_it(api, make_token):
    for role in ("agent", "leader", "requester"):
        token = api.bearer(make_token(role, unit_id=uuid.uuid4()))
        writes = [
            await api.client.put("/organisation", json={"name": "Mine"}, headers=token),
            await put_logo(api, _png(), headers=token),
            await api.client.delete("/organisation/logo", headers=token),
        ]
        assert [w.status_code for w in writes] == [403, 403, 403], role
        assert {error(w)["code"] for w in writes} == {"forbidden"}
        assert (await api.client.get("/organisation", headers=token)).status_code == 200
    assert (await current(api))["name"] != "Mine"


# -- the logo ---------------------------------------------------------------------------------


async def test_a_png_logo_is_kept_served_cached_and_published(api, make_token):
    await api.client.put("/organisation", json=FULL, headers=await api.admin_headers())
    before = await current(api)
    logo = _png(3, 2)
    response = await put_logo(api, logo)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["has_logo"], body["logo_media_type"]) == (True, "image/png")
    assert body["revision"] == before["revision"] + 1
    assert body["name"] == "Dinas Komunikasi dan Informatika"  # the text is kept

    requester = api.bearer(make_token("requester", unit_id=uuid.uuid4()))
    served = await api.client.get("/organisation/logo", headers=requester)
    assert served.status_code == 200
    assert served.content == logo
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'"
    )
    assert served.headers["cache-control"] == "private, max-age=60"
    etag = served.headers["etag"]
    assert etag.startswith(f'"{body["revision"]}-')

    cached = await api.client.get(
        "/organisation/logo", headers={**requester, "If-None-Match": etag}
    )
    assert cached.status_code == 304
    assert cached.content == b"" and cached.headers["etag"] == etag
    weak = await api.client.get(
        "/organisation/logo", headers={**requester, "If-None-Match": f'"0-x", W/{etag}'}
    )
    assert weak.status_code == 304

    # Saving the text keeps the logo; the revision (and so the ETag) moves on.
    renamed = await api.client.put(
        "/organisation", json={**FULL, "name": "Diskominfo Kota"}, headers=await api.admin_headers()
    )
    assert renamed.json()["has_logo"] is True
    stale = await api.client.get("/organisation/logo", headers={**requester, "If-None-Match": etag})
    assert stale.status_code == 200 and stale.content == logo
    assert stale.headers["etag"] != etag

    events = {e["revision"]: e for e in await organisation_events(api)}
    published = events[body["revision"]]
    assert base64.b64decode(published["logo_base64"]) == logo
    assert published["logo_media_type"] == "image/png"
    assert published["name"] == "Dinas Komunikasi dan Informatika"
    assert base64.b64decode(events[renamed.json()["revision"]]["logo_base64"]) == logo

    (entry, *_) = await audit_entries(api, "organisation.logo_set")
    assert entry["after"]["revision"] == body["revision"]
    assert entry["after"]["logo_sha256"] == hashlib.sha256(logo).hexdigest()
    assert entry["after"]["logo_bytes"] == len(logo)
    assert "logo_base64" not in entry["after"]  # the audit log keeps the digest, not the image


async def test_a_safe_svg_is_accepted_and_served_inert(api):
    response = await put_logo(api, SAFE_SVG, "image/svg+xml")
    assert response.status_code == 200, response.text
    assert response.json()["logo_media_type"] == "image/svg+xml"
    served = await api.client.get("/organisation/logo", headers=await api.admin_headers())
    assert served.content == SAFE_SVG
    assert served.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in served.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(200), "Windows executable"),
        (b"\x7fELF\x02\x01\x01" + bytes(100), "ELF executable"),
        (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "text/html"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
        (b"", "empty"),
    ],
)
async def test_the_type_comes_from_the_bytes_not_the_header(api, data, detected):
    before = await current(api)
    response = await put_logo(api, data, "image/png")
    assert response.status_code == 415, response.text
    assert error(response)["code"] == "unsupported_logo_type"
    assert detected in error(response)["message"]
    assert detected in error(response)["detected"]
    assert (await current(api))["revision"] == before["revision"]


async def test_an_oversized_logo_is_refused(api):
    before = await current(api)
    response = await put_logo(api, _png() + bytes(MAX_LOGO_BYTES))
    assert response.status_code == 413, response.text
    assert error(response)["code"] == "logo_too_large"
    assert str(MAX_LOGO_BYTES) in error(response)["message"]
    assert "256 KiB" in error(response)["message"]
    assert (await current(api))["revision"] == before["revision"]


@pytest.mark.parametrize(
    ("svg", "found"),
    [
        (_svg("<script>alert(document.cookie)</script>"), "<script>"),
        (_svg('<rect width="4" height="4"/>', root_attributes='onload="alert(1)"'), "onload"),
        (_svg('<rect width="4" height="4" ONCLICK="alert(1)"/>'), "onclick"),
        (_svg('<a href="javascript:alert(1)"><rect width="4" height="4"/></a>'), "javascript:"),
        (_svg('<a xlink:href="&#106;ava&#x09;script:alert(1)"><rect/></a>'), "javascript:"),
        (
            _svg('<foreignObject><p xmlns="http://www.w3.org/1999/xhtml">x</p></foreignObject>'),
            "foreignObject",
        ),
        (_svg('<image href="https://evil.example/pixel.png" width="4" height="4"/>'), "https://"),
        (_svg('<image xlink:href="http://evil.example/p.png"/>'), "http://"),
        (_svg('<image xlink:href="file:///etc/passwd"/>'), "file:///"),
        (_svg("<style>rect { fill: url(https://evil.example/x) }</style>"), "url()"),
        (
            b'<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>',
            "entity",
        ),
    ],
)
async def test_an_unsafe_svg_is_refused(api, svg, found):
    before = await current(api)
    response = await put_logo(api, svg, "image/svg+xml")
    assert response.status_code == 415, response.text
    assert error(response)["code"] == "unsafe_svg"
    assert found.lower() in error(response)["message"].lower()
    assert (await current(api))["revision"] == before["revision"]


# The signature and a valid header (8 + 25 bytes), then no image data: only decoding it shows.
CORRUPT_PNG = _png()[:33] + b"garbage after a valid signature and header" * 4


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (CORRUPT_PNG, "does not render"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "IHDR"),  # the signature and nothing of a PNG
        (_png(4096, 4097), "pixels"),  # too many to decode safely
        (b"\xff\xd8\xff\xe0" + b"not a jpeg at all" * 8, "does not render"),
        (_svg("<rect>"), "not well-formed"),
    ],
)
async def test_a_logo_that_does_not_render_is_refused(api, data, reason):
    before = await current(api)
    response = await put_logo(api, data)
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "invalid_logo"
    assert reason in error(response)["message"]
    assert "fields" not in error(response)  # the whole body, not a field of it
    assert (await current(api))["revision"] == before["revision"]


async def test_removing_the_logo_is_published(api):
    assert (await put_logo(api, _png())).status_code == 200
    response = await api.client.delete("/organisation/logo", headers=await api.admin_headers())
    assert response.status_code == 200
    body = response.json()
    assert (body["has_logo"], body["logo_media_type"]) == (False, None)
    missing = await api.client.get("/organisation/logo", headers=await api.admin_headers())
    assert missing.status_code == 404 and error(missing)["code"] == "no_logo"
    event = (await organisation_events(api))[-1]
    assert (event["revision"], event["logo_base64"], event["logo_media_type"]) == (
        body["revision"],
        None,
        None,
    )
    (entry, *_) = await audit_entries(api, "organisation.logo_removed")
    assert entry["before"]["has_logo"] is True and entry["after"]["has_logo"] is False
    # Once more: nothing to remove, nothing published.
    again = await api.client.delete("/organisation/logo", headers=await api.admin_headers())
    assert again.json()["revision"] == body["revision"]


# -- the checks on their own ------------------------------------------------------------------


def _jpeg_header(width: int, height: int) -> bytes:
    """A JPEG's start: SOI, an APP0 segment, then a baseline frame header (SOF0)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0


def test_a_jpeg_is_told_by_its_bytes_and_its_size_read():
    assert inspect_logo(_jpeg_header(800, 600)) == "image/jpeg"
    with pytest.raises(LogoRejected) as refused:
        inspect_logo(_jpeg_header(8000, 8000))
    assert (refused.value.status, refused.value.code) == (422, "invalid_logo")
    assert inspect_logo(_png()) == "image/png"
    assert inspect_logo(SAFE_SVG) == "image/svg+xml"
    # An SVG inside an HTML page is HTML.
    with pytest.raises(LogoRejected) as html:
        inspect_logo(b"<html><body><svg></svg></body></html>")
    assert html.value.code == "unsupported_logo_type"


@pytest.mark.parametrize(
    ("email", "saved"),
    [("", None), ("   ", None), (" Humas@Kota.GO.ID ", "Humas@kota.go.id"), ("humas", "refused")],
)
def test_the_declared_email_is_an_address_or_blank(email: str, saved: str | None) -> None:
    # "" clears the address: the schema says so, not only the code.
    declared = OrganisationUpdate.model_json_schema()["properties"]["email"]["anyOf"]
    strings = [option["pattern"] for option in declared if option.get("type") == "string"]
    if saved == "refused":
        assert not any(re.fullmatch(pattern, email) for pattern in strings)
        with pytest.raises(ValidationError):
            OrganisationUpdate(name="Diskominfo", email=email)
    else:
        assert any(re.fullmatch(pattern, email) for pattern in strings)
        assert OrganisationUpdate(name="Diskominfo", email=email).email == saved
