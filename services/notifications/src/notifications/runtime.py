"""The notifications service's runtime: the shared infrastructure plus mail rendering, the
SMTP settings store, the password cipher and the hand-off to this process's mail sender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends

from helpdesk_common.runtime import Runtime, runtime_of
from notifications.email.rendering import Renderer
from notifications.email.service import Handoff
from notifications.settings import NotificationsSettings
from notifications.settings_admin.crypto import PasswordCipher
from notifications.settings_admin.service import SmtpConfigStore

if TYPE_CHECKING:
    from notifications.email.sender import EmailSender


@dataclass(kw_only=True, eq=False)
class NotificationsRuntime(Runtime):
    settings: NotificationsSettings
    renderer: Renderer
    cipher: PasswordCipher
    smtp_config: SmtpConfigStore
    # The consumer's handlers give new deliveries straight to this app's sender.
    handoff: Handoff
    # Set by the sender worker while it runs.
    email_sender: EmailSender | None = None


RuntimeDep = Annotated[NotificationsRuntime, Depends(runtime_of(NotificationsRuntime))]
