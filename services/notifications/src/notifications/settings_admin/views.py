"""SMTP settings for administrators: read (without the password), save, send a test mail."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends

from helpdesk_common.auth import Principal, require_roles
from helpdesk_common.db import SessionDep
from helpdesk_common.directory import users_by_id
from helpdesk_common.errors import ApiError
from helpdesk_common.idempotency import IdempotentRoute, not_idempotent
from helpdesk_common.responses import errors
from notifications.email.compose import compose_message
from notifications.email.smtp import describe, send_once
from notifications.runtime import RuntimeDep
from notifications.settings import NotificationsSettings
from notifications.settings_admin.crypto import PasswordCipher
from notifications.settings_admin.models import SmtpSettingsRow
from notifications.settings_admin.schemas import (
    SmtpSettingsIn,
    SmtpSettingsOut,
    SmtpTestIn,
    SmtpTestResult,
)
from notifications.settings_admin.service import (
    config_from,
    get_saved,
    save_smtp_settings,
)

router = APIRouter(
    prefix="/admin/smtp-settings", tags=["SMTP settings"], route_class=IdempotentRoute
)

AdminUser = Depends(require_roles("admin"))


def _out(
    row: SmtpSettingsRow | None, *, settings: NotificationsSettings, cipher: PasswordCipher
) -> SmtpSettingsOut:
    config = config_from(row, settings=settings, cipher=cipher)
    return SmtpSettingsOut(
        host=config.host,
        port=config.port,
        security=config.security,
        username=config.username,
        sender=config.sender,
        has_password=bool(row.password_encrypted if row else settings.smtp_password),
        source=config.source,
        revision=row.revision if row else 0,
        updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
        problem=config.problem,
    )


@router.get("")
async def read_smtp_settings(
    runtime: RuntimeDep, session: SessionDep, _: Principal = AdminUser
) -> SmtpSettingsOut:
    async with session.begin():
        row = await get_saved(session)
    return _out(row, settings=runtime.settings, cipher=runtime.cipher)


@router.put("")
# Senders cache the settings: the cache is dropped right after the session's block, which
# inside a key's transaction would run before the commit and reload the old settings.
@not_idempotent
async def save_settings(
    body: SmtpSettingsIn, runtime: RuntimeDep, session: SessionDep, admin: Principal = AdminUser
) -> SmtpSettingsOut:
    settings, cipher = runtime.settings, runtime.cipher
    async with session.begin():
        row = await save_smtp_settings(
            session,
            host=body.host,
            port=body.port,
            security=body.security,
            username=body.username,
            password=body.password,
            sender=body.sender,
            cipher=cipher,
            settings=settings,
            actor_id=admin.user_id,
        )
    # Senders in this process pick the new settings up with their next mail.
    runtime.smtp_config.invalidate()
    return _out(row, settings=settings, cipher=cipher)


@router.post("/test", responses=errors(424))
async def send_test_mail(
    runtime: RuntimeDep,
    session: SessionDep,
    body: SmtpTestIn | None = None,
    admin: Principal = AdminUser,
) -> SmtpTestResult:
    """Send a test mail at once with the saved settings and report the server's answer."""
    recipient = body.to if body and body.to else admin.email
    name = admin.name
    language = admin.language
    if not recipient:
        async with session.begin():
            known = (await users_by_id(session, user_ids=[admin.user_id])).get(admin.user_id)
        if known is not None and known.email:
            recipient, name, language = known.email, known.full_name, known.language
    if not recipient:
        raise ApiError(
            422, "no_recipient", "Your account has no e-mail address; give one in 'to'", field="to"
        )
    runtime.smtp_config.invalidate()
    config = await runtime.smtp_config.current()
    settings = runtime.settings
    rendered = runtime.renderer.render(
        "test",
        language=language,
        context={
            "brand": settings.brand_name,
            "recipient": {"name": name or recipient, "reason": "admin"},
            "ticket": None,
            "event": None,
            "actor": None,
            "link": None,
            "server": f"{config.host}:{config.port}",
        },
    )
    message = compose_message(
        delivery_id=uuid.uuid4(),
        sender=config.sender,
        recipient=recipient,
        recipient_name=name,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
    )
    try:
        await send_once(config, message, recipient=recipient)
    except Exception as exc:
        # 424 Failed Dependency, not a 5xx: this service worked; the SMTP server its
        # administrator configured did not take the mail, which is what the test is for.
        raise ApiError(
            424, "smtp_error", f"The SMTP server did not take the mail: {describe(exc)}"
        ) from exc
    return SmtpTestResult(sent=True, recipient=recipient)
