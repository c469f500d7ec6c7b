"""A sign-in attack on an account (``user.sign_in_attacked``, from identity) becomes an in-app
notice to the account's user and to every active administrator, each in their language.

In the app only (no mail): the user learns of it when signing in, and the administrators
see it with the addresses in identity's audit log. Identity publishes the event at most
once per account per alert window, so this cannot flood anyone; a redelivered event adds
nothing (one notice per event and user, ``add_notifications``).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts import EventEnvelope
from helpdesk_common.contracts.identity import UserSignInAttacked
from helpdesk_common.directory import DirectoryUser, active_users, users_by_id
from notifications.email.rendering import Renderer
from notifications.email.service import Handoff
from notifications.inapp.service import add_notifications
from notifications.routing.handlers import NOTIFICATIONS_PLANNED
from notifications.settings import NotificationsSettings

EVENT_TYPE = UserSignInAttacked.event_type

# (title, body) for the account's own user and for the administrators, per language.
TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "id": {
        "user": (
            "Percobaan masuk mencurigakan ke akun Anda",
            "Ada {failures} percobaan masuk dengan kata sandi salah ke akun {username} dari "
            "{addresses} alamat dalam {minutes} menit terakhir. Akun Anda tidak dikunci. "
            "Jika itu bukan Anda, segera ganti kata sandi Anda.",
        ),
        "admin": (
            "Akun {username} kemungkinan diserang",
            "Ada {failures} percobaan masuk gagal ke akun {username} ({full_name}) dari "
            "{addresses} alamat dalam {minutes} menit terakhir. Alamat asalnya tercatat di "
            "log audit.",
        ),
    },
    "en": {
        "user": (
            "Suspicious sign-in attempts on your account",
            "There were {failures} sign-in attempts with a wrong password on the account "
            "{username} from {addresses} addresses in the last {minutes} minutes. Your "
            "account is not locked. If it was not you, change your password now.",
        ),
        "admin": (
            "Account {username} may be under attack",
            "There were {failures} failed sign-in attempts on the account {username} "
            "({full_name}) from {addresses} addresses in the last {minutes} minutes. The "
            "addresses are in the audit log.",
        ),
    },
}


async def notify_sign_in_attacked(
    session: AsyncSession,
    *,
    envelope: EventEnvelope,
    payload: UserSignInAttacked,
    settings: NotificationsSettings,
    renderer: Renderer,
    handoff: Handoff | None = None,
) -> None:
    account = (await users_by_id(session, user_ids=[payload.user_id])).get(payload.user_id)
    recipients: dict[Any, tuple[DirectoryUser, str]] = {
        admin.id: (admin, "admin") for admin in await active_users(session, roles=["admin"])
    }
    if account is not None and account.is_active:
        # An administrator under attack reads the personal notice about their own account.
        recipients[account.id] = (account, "user")
    minutes = max(
        1, math.ceil((payload.detected_at - payload.window_started_at).total_seconds() / 60)
    )
    values = {
        "failures": payload.failures,
        "addresses": payload.addresses,
        "minutes": minutes,
        "username": payload.username,
        "full_name": account.full_name if account is not None else payload.username,
    }
    base = settings.web_base_url.rstrip("/")
    rows = []
    for person, audience in recipients.values():
        title, body = TEXTS.get(person.language, TEXTS["id"])[audience]
        rows.append(
            {
                "user_id": person.id,
                "event_id": envelope.event_id,
                "event_type": envelope.event_type,
                "ticket_id": None,
                "ticket_number": None,
                "title": title.format(**values),
                "body": body.format(**values),
                "link": f"{base}/#/account" if audience == "user" else f"{base}/#/admin/audit",
                "created_at": envelope.occurred_at,
                "addressed": True,
            }
        )
    await add_notifications(session, rows=rows)
    NOTIFICATIONS_PLANNED.labels(envelope.event_type, "in_app").inc(len(rows))
