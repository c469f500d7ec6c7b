"""SMTP settings set by an administrator: write-only password, effect without a restart."""

from __future__ import annotations

import re
from email.utils import parseaddr

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from helpdesk_testing import eventually, free_port
from notifications.settings_admin.crypto import PasswordCipher
from notifications.settings_admin.models import SmtpSettingsRow
from notifications.settings_admin.schemas import (
    ADDRESS_PATTERN,
    MAILBOX_PATTERN,
    SmtpSettingsIn,
    SmtpTestIn,
)
from notifications.settings_admin.service import config_from

PASSWORD = "s3cret-Pa55word"


def settings_body(port: int, **extra):
    return {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "Helpdesk Bukittinggi <helpdesk@bukittinggikota.example>",
        **extra,
    }


async def saved_row(service) -> SmtpSettingsRow:
    async with service.sessionmaker() as session:
        row = await session.scalar(sa.select(SmtpSettingsRow))
    assert row is not None, "no SMTP settings saved"
    return row


async def test_settings_start_from_the_environment_and_are_admin_only(service, smtp_sink):
    response = await service.client.get("/admin/smtp-settings", headers=service.admin_headers())
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "environment"
    assert body["host"] == "127.0.0.1" and body["port"] == smtp_sink.port
    assert body["security"] == "none" and body["has_password"] is False
    assert "password" not in body

    agent = {"Authorization": f"Bearer {service.make_token('agent')}"}
    assert (await service.client.get("/admin/smtp-settings", headers=agent)).status_code == 403
    put = await service.client.put(
        "/admin/smtp-settings", json=settings_body(smtp_sink.port), headers=agent
    )
    assert put.status_code == 403
    assert (
        await service.client.post("/admin/smtp-settings/test", headers=agent)
    ).status_code == 403
    assert (await service.client.get("/admin/smtp-settings")).status_code == 401


async def test_password_is_write_only_and_stored_encrypted(service, smtp_sink):
    headers = service.admin_headers()
    try:
        saved = await service.client.put(
            "/admin/smtp-settings",
            json=settings_body(smtp_sink.port, username="helpdesk", password=PASSWORD),
            headers=headers,
        )
        assert saved.status_code == 200
        assert saved.json()["has_password"] is True and saved.json()["source"] == "database"
        assert PASSWORD not in saved.text
        row = await saved_row(service)
        assert row.password_encrypted and PASSWORD not in row.password_encrypted
        assert (
            PasswordCipher(service.settings.secret_key).decrypt(row.password_encrypted) == PASSWORD
        )

        read = await service.client.get("/admin/smtp-settings", headers=headers)
        assert read.json()["has_password"] is True and PASSWORD not in read.text
        assert read.json()["username"] == "helpdesk"

        # Saving without a password keeps the stored one.
        kept = await service.client.put(
            "/admin/smtp-settings",
            json=settings_body(smtp_sink.port, username="helpdesk"),
            headers=headers,
        )
        assert kept.json()["has_password"] is True
        row = await saved_row(service)
        assert row.password_encrypted
        assert (
            PasswordCipher(service.settings.secret_key).decrypt(row.password_encrypted) == PASSWORD
        )
        assert kept.json()["revision"] == saved.json()["revision"] + 1

        # An empty password removes it.
        cleared = await service.client.put(
            "/admin/smtp-settings",
            json=settings_body(smtp_sink.port, username=None, password=""),
            headers=headers,
        )
        assert cleared.json()["has_password"] is False
        assert (await saved_row(service)).password_encrypted is None
    finally:
        await service.client.put(
            "/admin/smtp-settings", json=settings_body(smtp_sink.port), headers=headers
        )


async def test_invalid_settings_are_refused(service):
    headers = service.admin_headers()
    for bad in (
        settings_body(0),
        settings_body(True),  # not 1
        settings_body(25, sender="not an address"),
        settings_body(25, sender="Helpdesk <helpdesk@x.example>\r\nBcc: evil@x.example"),
        settings_body(25, security="ssl3"),
        {**settings_body(25), "host": ""},
    ):
        response = await service.client.put("/admin/smtp-settings", json=bad, headers=headers)
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "validation_error"


async def test_new_settings_take_effect_without_a_restart(service, smtp_sink, start_smtp, tickets):
    """Point the running service at a server that demands a login: the next mail goes there."""
    headers = service.admin_headers()
    with start_smtp(auth=("helpdesk", PASSWORD)) as secured:
        try:
            saved = await service.client.put(
                "/admin/smtp-settings",
                json=settings_body(secured.port, username="helpdesk", password=PASSWORD),
                headers=headers,
            )
            assert saved.status_code == 200
            unit = await service.add_unit()
            requester = await service.add_user("requester", unit=unit)
            envelope = await service.publish(tickets.created(unit, requester))
            await eventually(lambda: len(secured.to(requester.email)) == 1)
            [mail] = secured.to(requester.email)
            assert mail.message["From"] == "Helpdesk Bukittinggi <helpdesk@bukittinggikota.example>"
            assert mail.mail_from == "helpdesk@bukittinggikota.example"
            assert smtp_sink.to(requester.email) == []
            await service.wait_sent(envelope)
        finally:
            await service.client.put(
                "/admin/smtp-settings",
                json=settings_body(smtp_sink.port, password=""),
                headers=headers,
            )


async def test_test_mail_goes_to_the_admin_and_reports_errors(service, smtp_sink, start_smtp):
    headers = service.admin_headers()
    response = await service.client.post("/admin/smtp-settings/test", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"sent": True, "recipient": "admin@example.test"}
    [mail] = smtp_sink.to("admin@example.test")
    assert mail.subject == "Email uji dari Helpdesk Kominfo"
    assert f"127.0.0.1:{smtp_sink.port}" in mail.text

    other = await service.client.post(
        "/admin/smtp-settings/test", json={"to": "ops@example.test"}, headers=headers
    )
    assert other.status_code == 200 and len(smtp_sink.to("ops@example.test")) == 1

    with start_smtp(auth=("helpdesk", PASSWORD)) as secured:
        try:
            await service.client.put(
                "/admin/smtp-settings",
                json=settings_body(secured.port, username="helpdesk", password="wrong"),
                headers=headers,
            )
            refused = await service.client.post("/admin/smtp-settings/test", headers=headers)
            assert refused.status_code == 424
            assert refused.json()["error"]["code"] == "smtp_error"
            assert "535" in refused.json()["error"]["message"]

            await service.client.put(
                "/admin/smtp-settings", json=settings_body(free_port()), headers=headers
            )
            down = await service.client.post("/admin/smtp-settings/test", headers=headers)
            assert down.status_code == 424
        finally:
            await service.client.put(
                "/admin/smtp-settings",
                json=settings_body(smtp_sink.port, password=""),
                headers=headers,
            )
    no_address = await service.client.post(
        "/admin/smtp-settings/test",
        headers={"Authorization": f"Bearer {service.make_token('admin')}"},
    )
    assert no_address.status_code == 422 and no_address.json()["error"]["code"] == "no_recipient"


def test_a_password_saved_under_another_secret_is_reported_not_used(make_settings):
    from notifications.settings import NotificationsSettings

    settings = make_settings(NotificationsSettings, secret_key="the-new-secret")
    row = SmtpSettingsRow(
        host="mail.example",
        port=587,
        security="starttls",
        username="helpdesk",
        password_encrypted=PasswordCipher("the-old-secret").encrypt(PASSWORD),
        sender="helpdesk@example.test",
        revision=1,
    )
    config = config_from(row, settings=settings, cipher=PasswordCipher(settings.secret_key))
    assert config.password is None
    assert config.problem and "save the SMTP settings again" in config.problem
    assert PASSWORD not in repr(config)


def test_production_refuses_the_default_secret(make_settings):
    import pytest

    from notifications.settings import NotificationsSettings

    with pytest.raises(ValueError, match="secret_key"):
        make_settings(NotificationsSettings, environment="production", secret_key="change-me")


SENDERS = [
    ("Helpdesk Kominfo <helpdesk@example.go.id>", True),
    ("Dinas Kominfo Kab. Agam <helpdesk@agamkab.go.id>", True),
    ('"Kominfo, Agam" <helpdesk@agamkab.go.id>', True),
    ("Layanan Ünal <helpdesk@example.go.id>", True),
    ("<helpdesk@example.go.id>", True),
    ("  helpdesk@example.go.id ", True),
    ("Helpdesk Kominfo <helpdesk@localhost>", True),  # an intranet host (the default)
    ("helpdesk@", False),
    ("helpdesk@example.", False),
    ("Helpdesk <helpdesk@example.go.id>\r\nBcc: evil@x.example", False),
    ("helpdesk@example.go.id\n", False),  # Python's $ would let the newline through
    ("a, b <helpdesk@example.go.id>", False),  # two mailboxes to email.utils
    ("Helpdesk (Kominfo) <helpdesk@example.go.id>", False),  # a comment
    ("helpdesk@exämple.go.id", False),  # needs SMTPUTF8
    ("help desk@example.go.id", False),
]


@pytest.mark.parametrize(("sender", "ok"), SENDERS)
def test_the_declared_sender_pattern_is_what_is_accepted(sender: str, ok: bool) -> None:
    declared = SmtpSettingsIn.model_json_schema()["properties"]["sender"]["pattern"]
    assert declared == MAILBOX_PATTERN
    assert bool(re.fullmatch(MAILBOX_PATTERN, sender)) is ok
    body = {"host": "smtp.example", "port": 25, "sender": sender}
    if ok:
        assert SmtpSettingsIn.model_validate(body).sender == sender.strip(" ")
    else:
        with pytest.raises(ValidationError):
            SmtpSettingsIn.model_validate(body)


def test_a_test_mail_goes_to_a_plain_address_only() -> None:
    assert SmtpTestIn.model_validate({"to": " ops@example.test "}).to == "ops@example.test"
    for bad in ("Ops <ops@example.test>", "ops@", "ops@example.test\n"):
        assert not re.fullmatch(ADDRESS_PATTERN, bad)
        with pytest.raises(ValidationError):
            SmtpTestIn.model_validate({"to": bad})


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.from_regex(MAILBOX_PATTERN, fullmatch=True).filter(lambda s: 3 <= len(s) <= 320))
def test_every_sender_the_pattern_allows_parses_to_its_address(sender: str) -> None:
    # The envelope sender is email.utils' reading of the From header: the same address.
    saved = SmtpSettingsIn(host="smtp.example", port=25, sender=sender).sender
    inner = re.search(r"<([^<>]*)>$", saved)
    assert parseaddr(saved)[1] == (inner.group(1) if inner else saved)
