"""Every table of the service, imported in one place so the metadata is complete."""

from __future__ import annotations

from attachments.db import Base
from attachments.files.models import Attachment
from attachments.tickets.models import KnownTicket

metadata = Base.metadata

__all__ = ["Attachment", "KnownTicket", "metadata"]
