"""The organisation's identity, printed on every document (seed 004 §3.6: administrators
keep "pengaturan sistem (SMTP, identitas)").

Reading: every signed-in user (the web client shows the letterhead and previews the logo).
Changing: administrators only. The logo is uploaded as the raw request body; its type is
decided by its bytes, and it is kept only once it has been printed on a test letterhead.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response

from helpdesk_common.auth import CurrentUser, Principal, require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.errors import ApiError
from helpdesk_common.idempotency import IdempotentRoute
from helpdesk_documents.organisation import DEFAULT_NAME
from identity.organisation import service
from identity.organisation.logo import (
    MAX_LOGO_BYTES,
    LogoRejected,
    inspect_logo,
    prove_renders,
    too_large,
)
from identity.organisation.models import LOGO_MEDIA_TYPES
from identity.organisation.schemas import OrganisationOut, OrganisationUpdate

router = APIRouter(prefix="/organisation", tags=["organisation"], route_class=IdempotentRoute)

AdminUser = Annotated[Principal, Depends(require_roles("admin"))]

# The logo is shown by browsers: never sniffed as something else, and inert when opened on
# its own (an SVG's script could not run, nor load anything).
LOGO_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Cache-Control": "private, max-age=60",
}

_LOGO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"The image itself (PNG, JPEG or SVG), at most {MAX_LOGO_BYTES} bytes",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in LOGO_MEDIA_TYPES
        },
    }
}


@router.get("")
async def get_organisation(_: CurrentUser, session: SessionDep) -> OrganisationOut:
    """The identity; before an administrator first saves it, the defaults (revision 0)."""
    async with session.begin():
        row = await service.get_organisation(session)
    return service.organisation_out(row)


@router.put("")
async def update_organisation(
    body: OrganisationUpdate, admin: AdminUser, session: SessionDep
) -> OrganisationOut:
    """Replace name, parent name, address, phone, e-mail and website (the logo is kept);
    publishes ``organisation.updated``."""
    async with session.begin():
        row = await service.update_organisation(session, actor=admin, fields=body.model_dump())
    return service.organisation_out(row)


@router.put(
    "/logo",
    openapi_extra=_LOGO_BODY,
    responses={
        413: {"description": "`logo_too_large`: over 256 KiB"},
        415: {"description": "`unsupported_logo_type` (not PNG, JPEG or SVG) or `unsafe_svg`"},
        422: {"description": "`invalid_logo`: it does not render"},
    },
)
async def put_logo(request: Request, admin: AdminUser, session: SessionDep) -> OrganisationOut:
    """Set the logo from the raw body. Its type comes from its bytes (the Content-Type header
    is not believed); an SVG may not hold script, event handlers, foreignObject or external
    references. Publishes ``organisation.updated``."""
    data = await _read_body(request)
    try:
        media_type = inspect_logo(data)
        await prove_renders(logo=data, media_type=media_type, name=DEFAULT_NAME, by=admin.name)
    except LogoRejected as exc:
        raise _api(exc) from exc
    async with session.begin():
        row = await service.set_logo(session, actor=admin, logo=data, media_type=media_type)
    return service.organisation_out(row)


@router.delete("/logo")
async def delete_logo(admin: AdminUser, session: SessionDep) -> OrganisationOut:
    """Remove the logo (nothing happens when there is none); publishes
    ``organisation.updated``."""
    async with session.begin():
        row = await service.remove_logo(session, actor=admin)
        if row is None:
            row = await service.get_organisation(session)
    return service.organisation_out(row)


@router.get(
    "/logo",
    response_class=Response,
    responses={
        200: {"content": {media_type: {} for media_type in LOGO_MEDIA_TYPES}},
        304: {"description": "the logo matching If-None-Match is still current"},
        404: {"description": "`no_logo`"},
    },
)
async def get_logo(
    _: CurrentUser,
    session: SessionDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The logo's bytes with their media type; ``ETag`` follows the revision."""
    async with session.begin():
        row = await service.get_organisation(session)
    if row is None or row.logo is None or row.logo_media_type is None:
        raise ApiError(404, "no_logo", "No logo has been set")
    etag = service.logo_etag(row)
    headers = {**LOGO_HEADERS, "ETag": etag}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(row.logo, media_type=row.logo_media_type, headers=headers)


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it is known to be over the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_LOGO_BYTES:
        raise _api(too_large(int(declared)))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGO_BYTES:
            raise _api(too_large())
    return bytes(body)


def _api(exc: LogoRejected) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, field=exc.field, extra=exc.extra)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match (RFC 9110 §13.1.2): weak comparison, a list, or ``*``."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False
