"""Every table of the service, imported in one place so the metadata is complete.

The directory's ``users`` and ``units`` are helpdesk_common.directory's (see ``notifications.db``).
"""

from __future__ import annotations

from notifications.db import Base
from notifications.email.models import DigestItem, DigestRun, EmailAttachment, EmailDelivery
from notifications.inapp.models import Notification
from notifications.preferences.models import NotificationPreference
from notifications.settings_admin.models import SmtpSettingsRow
from notifications.triage.models import TriageMember, TriageSettingsRow

metadata = Base.metadata

__all__ = [
    "DigestItem",
    "DigestRun",
    "EmailAttachment",
    "EmailDelivery",
    "Notification",
    "NotificationPreference",
    "SmtpSettingsRow",
    "TriageMember",
    "TriageSettingsRow",
    "metadata",
]
