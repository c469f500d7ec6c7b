"""Every table of the service, imported in one place so the metadata is complete.

The directory's ``users`` and ``units`` are helpdesk_common.directory's (see ``notifications.db``).
"""

from __future__ import annotations

from notifications.db import Base
from notifications.email.models import EmailAttachment, EmailDelivery
from notifications.inapp.models import Notification
from notifications.settings_admin.models import SmtpSettingsRow

metadata = Base.metadata

__all__ = [
    "EmailAttachment",
    "EmailDelivery",
    "Notification",
    "SmtpSettingsRow",
    "metadata",
]
