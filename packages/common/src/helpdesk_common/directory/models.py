"""The directory tables: every consuming service's copy of identity's users and units.

The tables live in each consuming service's own schema (declared without a schema;
``search_path`` picks it), on their own metadata like the outbox and inbox
(:data:`helpdesk_common.outbox.messaging_metadata`): a service's first directory migration
calls :func:`create_directory_tables`. They are mapped to classes of their own registry, so a
service queries them like its own models (``select(Ticket, DirectoryUnit.name)``,
``session.get(DirectoryUnit, unit_id)``) without sharing its declarative base.

A service whose own tables refer to these (tickets' ``tickets.unit_id -> units.id``) calls
:func:`include_directory_tables` on its metadata, so that the foreign key resolves there and
alembic compares the whole schema.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from helpdesk_common.db import service_metadata

directory_metadata = service_metadata()


class _DirectoryBase(DeclarativeBase):
    metadata = directory_metadata
    type_annotation_map = {
        str: sa.Text(),
        datetime: sa.DateTime(timezone=True),
        # Identity's revision of a snapshot: an older snapshot never overwrites a newer one.
        int: sa.BigInteger(),
    }


class DirectoryUnit(_DirectoryBase):
    """A unit (SKPD) as identity last described it."""

    __tablename__ = "units"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str]
    name: Mapped[str]
    contact_name: Mapped[str | None]
    contact_email: Mapped[str | None]
    is_active: Mapped[bool]
    revision: Mapped[int]
    updated_at: Mapped[datetime]


class DirectoryUser(_DirectoryBase):
    """A user as identity last described them (never read from identity's tables)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    username: Mapped[str]
    full_name: Mapped[str]
    email: Mapped[str | None]
    role: Mapped[str]
    unit_id: Mapped[uuid.UUID | None]
    is_active: Mapped[bool]
    language: Mapped[str]
    revision: Mapped[int]
    updated_at: Mapped[datetime]

    # Active users by role: assignee pickers, a notification's staff recipients.
    __table_args__ = (sa.Index("ix_users_role_is_active", "role", "is_active"),)


def create_directory_tables(op: Operations) -> None:
    """Called from a service's migration: ``users`` and ``units`` in its schema."""
    directory_metadata.create_all(op.get_bind())


def include_directory_tables(metadata: sa.MetaData) -> None:
    """Copy the directory tables into a service's own metadata (no-op if already there).

    Foreign keys declared as strings (``ForeignKey("units.id")``) resolve within their own
    metadata only, and alembic compares a schema with one metadata: a service whose tables
    refer to ``units`` or ``users``, or that checks its migrations against its models, calls
    this once next to its declarative base. Queries keep using :class:`DirectoryUnit` and
    :class:`DirectoryUser`; the copies describe the same tables.
    """
    for table in directory_metadata.sorted_tables:
        if table.name not in metadata.tables:
            table.to_metadata(metadata)
