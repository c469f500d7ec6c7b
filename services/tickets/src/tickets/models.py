"""Every table of the service, for migrations (``target_metadata``) and tests."""

from tickets.db import Base
from tickets.directory.models import Unit, User
from tickets.masterdata.models import (
    AuditEntry,
    Category,
    Holiday,
    OfficeHours,
    Priority,
    PriorityRule,
    SlaPolicy,
)
from tickets.tickets.models import Comment, Ticket, TimelineEntry

metadata = Base.metadata

__all__ = [
    "AuditEntry",
    "Category",
    "Comment",
    "Holiday",
    "OfficeHours",
    "Priority",
    "PriorityRule",
    "SlaPolicy",
    "Ticket",
    "TimelineEntry",
    "Unit",
    "User",
    "metadata",
]
