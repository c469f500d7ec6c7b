"""Every table of the service, imported in one place so the metadata is complete."""

from __future__ import annotations

from notifications.db import Base
from notifications.directory.models import DirectoryUnit, DirectoryUser
from notifications.email.models import EmailDelivery
from notifications.inapp.models import Notification
from notifications.settings_admin.models import SmtpSettingsRow

metadata = Base.metadata

__all__ = [
    "DirectoryUnit",
    "DirectoryUser",
    "EmailDelivery",
    "Notification",
    "SmtpSettingsRow",
    "metadata",
]
