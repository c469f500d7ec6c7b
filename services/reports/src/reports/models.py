"""Every table of the service, imported in one place so the metadata is complete.

The directory's ``users`` and ``units`` are helpdesk_common.directory's (see ``reports.db``).
"""

from __future__ import annotations

from reports.db import Base
from reports.readmodel.models import (
    ROLLUP_TABLES,
    dimension_names,
    duration_histogram,
    read_model_state,
    rebuild_progress,
    ticket_facts,
)
from reports.schedules.models import ReportRun, ReportSchedule

metadata = Base.metadata

__all__ = [
    "ROLLUP_TABLES",
    "ReportRun",
    "ReportSchedule",
    "dimension_names",
    "duration_histogram",
    "metadata",
    "read_model_state",
    "rebuild_progress",
    "ticket_facts",
]
