"""The organisation's identity (the documents' letterhead): read it, change it, set its logo.

No row until an administrator first saves it: readers get the defaults (revision 0). Every
change bumps the revision, publishes the full snapshot, logo included, as
``organisation.updated`` through the outbox and writes an audit entry, all in the caller's
transaction; a change that changes nothing does none of that (like users' and units').
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.contracts.identity import OrganisationUpdated
from helpdesk_common.outbox import add_event
from helpdesk_documents.organisation import DEFAULT_NAME
from identity.audit.service import record
from identity.events import PRODUCER
from identity.models import utcnow
from identity.organisation.models import LogoMediaType, Organisation
from identity.organisation.schemas import OrganisationOut

ROW_ID = 1
ENTITY_TYPE = "organisation"


async def get_organisation(session: AsyncSession) -> Organisation | None:
    """The saved identity, or None while the defaults apply."""
    return await session.get(Organisation, ROW_ID)


def organisation_out(row: Organisation | None) -> OrganisationOut:
    if row is None:
        return OrganisationOut()  # the defaults, revision 0
    return OrganisationOut(
        name=row.name,
        parent_name=row.parent_name,
        address=row.address,
        phone=row.phone,
        email=row.email,
        website=row.website,
        has_logo=row.logo is not None,
        logo_media_type=row.logo_media_type,
        revision=row.revision,
        updated_at=row.updated_at,
    )


def audit_json(row: Organisation) -> dict[str, Any]:
    """What the audit log keeps: every field, the logo as its type, size and digest."""
    snapshot = organisation_out(row).model_dump(mode="json")
    logo = row.logo
    snapshot["logo_bytes"] = len(logo) if logo is not None else None
    snapshot["logo_sha256"] = hashlib.sha256(logo).hexdigest() if logo is not None else None
    return snapshot


def logo_etag(row: Organisation) -> str:
    """The revision, plus the logo's digest so that a fresh installation's revision 1 never
    matches a logo cached from another one."""
    digest = hashlib.sha256(row.logo or b"").hexdigest()[:16]
    return f'"{row.revision}-{digest}"'


async def update_organisation(
    session: AsyncSession, *, actor: Principal, fields: dict[str, Any]
) -> Organisation | None:
    """Replace the text fields (the logo is kept)."""
    return await _change(session, actor=actor, changes=fields, action="organisation.updated")


async def set_logo(
    session: AsyncSession, *, actor: Principal, logo: bytes, media_type: LogoMediaType
) -> Organisation | None:
    """Store a logo already checked (``identity.organisation.logo``)."""
    changes = {"logo": logo, "logo_media_type": media_type}
    return await _change(session, actor=actor, changes=changes, action="organisation.logo_set")


async def remove_logo(session: AsyncSession, *, actor: Principal) -> Organisation | None:
    changes = {"logo": None, "logo_media_type": None}
    return await _change(session, actor=actor, changes=changes, action="organisation.logo_removed")


async def _lock(session: AsyncSession) -> Organisation | None:
    """The row, with this transaction the only writer until it ends.

    A transaction-scoped advisory lock rather than ``FOR UPDATE``: before the first save
    there is no row to lock, and two first saves must not both insert.
    """
    await session.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(hashtext('identity-organisation:' || current_schema()))"
        )
    )
    return await session.get(Organisation, ROW_ID, populate_existing=True)


async def _change(
    session: AsyncSession, *, actor: Principal, changes: dict[str, Any], action: str
) -> Organisation | None:
    row = await _lock(session)
    if row is None:
        if all(value is None for value in changes.values()):
            return None  # removing a logo that was never set: nothing to save
        before = None
        row = Organisation(id=ROW_ID, name=DEFAULT_NAME, revision=0)
        session.add(row)
        changed = changes
    else:
        changed = {key: value for key, value in changes.items() if getattr(row, key) != value}
        if not changed:
            return row
        before = audit_json(row)
    for key, value in changed.items():
        setattr(row, key, value)
    row.revision += 1
    row.updated_at = utcnow()
    row.updated_by_id = actor.user_id
    row.updated_by_name = actor.name
    await session.flush()
    await publish_organisation(session, row)
    await record(
        session,
        actor=actor,
        action=action,
        entity_type=ENTITY_TYPE,
        entity_id=str(ROW_ID),
        before=before,
        after=audit_json(row),
    )
    return row


def event_of(row: Organisation) -> OrganisationUpdated:
    """The full snapshot other services keep (their directory's ``organisation``)."""
    return OrganisationUpdated(
        name=row.name,
        parent_name=row.parent_name,
        address=row.address,
        phone=row.phone,
        email=row.email,
        website=row.website,
        logo_base64=base64.b64encode(row.logo).decode("ascii") if row.logo else None,
        logo_media_type=row.logo_media_type if row.logo else None,
        revision=row.revision,
        updated_at=row.updated_at,
    )


async def publish_organisation(session: AsyncSession, row: Organisation) -> None:
    await add_event(session, event_of(row), producer=PRODUCER)
