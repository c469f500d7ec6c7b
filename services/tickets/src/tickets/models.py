"""Every table of the service, for migrations (``target_metadata``) and tests.

The directory's ``users`` and ``units`` are helpdesk_common.directory's (see ``tickets.db``).
"""

from tickets.attachments.models import TicketAttachment
from tickets.db import Base
from tickets.exports.models import ExportLog, ExportPolicy
from tickets.intake.models import IntakeSource
from tickets.masterdata.models import (
    AuditEntry,
    Category,
    Holiday,
    OfficeHours,
    Priority,
    PriorityRule,
    SlaPolicy,
)
from tickets.queues.models import SavedView
from tickets.tickets.models import Comment, Ticket, TimelineEntry

metadata = Base.metadata

__all__ = [
    "AuditEntry",
    "Category",
    "Comment",
    "ExportLog",
    "ExportPolicy",
    "Holiday",
    "IntakeSource",
    "OfficeHours",
    "Priority",
    "PriorityRule",
    "SavedView",
    "SlaPolicy",
    "Ticket",
    "TicketAttachment",
    "TimelineEntry",
    "metadata",
]
