"""The read model's tables. Every row carries the read model's generation: a rebuild fills
generation n + 1 beside the live generation n and then switches over (``rebuild/``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from reports.db import Base
from reports.readmodel.projection import MEASURES
from reports.readmodel.rollups import ROLLUPS

metadata = Base.metadata

_DIMENSION_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "unit_id": UUID(as_uuid=True),
    "category_id": UUID(as_uuid=True),
    "assignee_id": UUID(as_uuid=True),
    "priority": sa.Text(),
    "channel": sa.Text(),
}


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


ticket_facts = sa.Table(
    "ticket_facts",
    metadata,
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("ticket_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("number", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("priority", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
    sa.Column("category_id", UUID(as_uuid=True), nullable=False),
    sa.Column("assignee_id", UUID(as_uuid=True), nullable=False),
    sa.Column("unit_name", sa.Text),
    sa.Column("category_name", sa.Text),
    sa.Column("assignee_name", sa.Text),
    _at("created_at", nullable=False),
    _at("first_response_at"),
    _at("resolved_at"),
    _at("closed_at"),
    _at("done_at"),
    sa.Column("first_response_seconds", sa.Integer),
    sa.Column("resolution_seconds", sa.Integer),
    _at("first_response_due_at"),
    _at("resolution_due_at"),
    _at("first_response_breached_at"),
    _at("resolution_breached_at"),
    sa.Column("escalation_level", sa.Integer, nullable=False),
    sa.Column("reopen_count", sa.Integer, nullable=False),
    sa.Column("result_summary", sa.Text),
    # Response and resolution times by period (percentiles) read these, never the rows.
    sa.Index(
        "ix_ticket_facts_created",
        "generation",
        "created_at",
        postgresql_include=["first_response_seconds", *_DIMENSION_TYPES],
    ),
    sa.Index(
        "ix_ticket_facts_resolved",
        "generation",
        "resolved_at",
        "ticket_id",
        postgresql_include=["resolution_seconds", *_DIMENSION_TYPES],
        postgresql_where=sa.text("resolved_at IS NOT NULL"),
    ),
    # The same per unit: a unit's durations (a requester's reports) without reading the
    # other units'.
    sa.Index(
        "ix_ticket_facts_unit_created",
        "generation",
        "unit_id",
        "created_at",
        postgresql_include=[
            "first_response_seconds",
            "category_id",
            "priority",
            "channel",
            "assignee_id",
        ],
    ),
    sa.Index(
        "ix_ticket_facts_unit_resolved",
        "generation",
        "unit_id",
        "resolved_at",
        postgresql_include=[
            "resolution_seconds",
            "category_id",
            "priority",
            "channel",
            "assignee_id",
        ],
        postgresql_where=sa.text("resolved_at IS NOT NULL"),
    ),
    # The open backlog now: small, whatever the number of tickets.
    sa.Index(
        "ix_ticket_facts_open",
        "generation",
        "unit_id",
        postgresql_include=["category_id", "priority", "channel", "assignee_id"],
        postgresql_where=sa.text("done_at IS NULL"),
    ),
)


def _rollup_table(name: str, grain: str, dimensions: tuple[str, ...]) -> sa.Table:
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column(grain, sa.Date, primary_key=True),
        *(sa.Column(d, _DIMENSION_TYPES[d], primary_key=True) for d in dimensions),
        *(sa.Column(m, sa.BigInteger, nullable=False, server_default="0") for m in MEASURES),
    ]
    # A filter on a dimension reads by it, then by period.
    for dimension in dimensions:
        columns.append(sa.Index(f"ix_{name}_{dimension}", "generation", dimension, grain))
    return sa.Table(name, metadata, *columns)


ROLLUP_TABLES = {r.table: _rollup_table(r.table, r.grain, r.dimensions) for r in ROLLUPS}

# Durations by bucket (readmodel/histogram.py), per month and per value of one dimension
# (kind "all": every ticket, value ''), for medians and p90 over many tickets.
duration_histogram = sa.Table(
    "duration_histogram",
    metadata,
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("bucket", sa.SmallInteger, primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)

# Names of what the figures are grouped by, as the tickets' snapshots last named them
# (units and agents are named by the directory replica first).
dimension_names = sa.Table(
    "dimension_names",
    metadata,
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
)

# One row: which generation the figures read, and the rebuild in progress if any.
read_model_state = sa.Table(
    "read_model_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("active", sa.Integer, nullable=False),
    sa.Column("building", sa.Integer),
    _at("built_at"),
    _at("build_started_at"),
    sa.Column("build_requested_by", sa.Text),
    sa.Column("last_error", sa.Text),
    # A replaced generation whose rows are still being deleted.
    sa.Column("purging", sa.Integer),
    sa.CheckConstraint("id = 1", name="single_row"),
)

# How far a rebuild got: apart from ``read_model_state``, which every projection holds
# ``FOR SHARE`` (a page updating that row would wait for them while they wait for its rows).
rebuild_progress = sa.Table(
    "rebuild_progress",
    metadata,
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("cursor", sa.Text),
    sa.Column("tickets", sa.BigInteger, nullable=False, server_default="0"),
)
