"""The directory tables: every consuming service's copy of identity's users and units.

The tables live in each consuming service's own schema (declared without a schema;
``search_path`` picks it), on their own metadata like the outbox and inbox
(:data:`helpdesk_common.outbox.messaging_metadata`): a service's first directory migration
calls :func:`create_directory_tables`. They are mapped to classes of their own registry, so a
service queries them like its own models (``select(Ticket, DirectoryUnit.name)``,
``session.get(DirectoryUnit, unit_id)``) without sharing its declarative base: like a
service's ``Base``, they derive from :class:`helpdesk_common.db.ServiceBase` and have a
metadata and registry of their own.

A service whose own tables refer to these (tickets' ``tickets.unit_id -> units.id``) calls
:func:`include_directory_tables` on its metadata, so that the foreign key resolves there and
alembic compares the whole schema.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk_common.db import ServiceBase


class _DirectoryBase(ServiceBase):
    __abstract__ = True


directory_metadata = _DirectoryBase.metadata


class DirectoryUnit(_DirectoryBase):
    """A unit (SKPD) as identity last described it."""

    __tablename__ = "units"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str] = mapped_column(sa.Text)
    contact_name: Mapped[str | None] = mapped_column(sa.Text)
    contact_email: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool]
    # Identity's revision of the snapshot: an older snapshot never overwrites a newer one.
    revision: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime]


class DirectoryUser(_DirectoryBase):
    """A user as identity last described them (never read from identity's tables)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.Text)
    full_name: Mapped[str] = mapped_column(sa.Text)
    email: Mapped[str | None] = mapped_column(sa.Text)
    role: Mapped[str] = mapped_column(sa.Text)
    unit_id: Mapped[uuid.UUID | None]
    is_active: Mapped[bool]
    language: Mapped[str] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime]

    # Active users by role: assignee pickers, a notification's staff recipients.
    __table_args__ = (sa.Index("ix_users_role_is_active", "role", "is_active"),)


class DirectoryOrganisation(_DirectoryBase):
    """The organisation's identity (the documents' letterhead) as identity last described it:
    one row, ``id`` 1."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, default=1)
    name: Mapped[str] = mapped_column(sa.Text)
    parent_name: Mapped[str | None] = mapped_column(sa.Text)
    address: Mapped[str | None] = mapped_column(sa.Text)
    phone: Mapped[str | None] = mapped_column(sa.Text)
    email: Mapped[str | None] = mapped_column(sa.Text)
    website: Mapped[str | None] = mapped_column(sa.Text)
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    logo_media_type: Mapped[str | None] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime]


def create_directory_tables(op: Operations) -> None:
    """Called from a service's migrations: the directory tables missing from its schema.

    Tables that exist are left alone (``checkfirst``), so a later migration calls this again
    to add a table the directory gained (``organisation``, after ``users`` and ``units``).
    """
    directory_metadata.create_all(op.get_bind(), checkfirst=True)


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


def directory_schema_differences(connection: Connection) -> list[object]:
    """How ``users`` and ``units`` in the connection's schema (its ``search_path``) differ from
    the shared shape; ``[]`` when identical. For a consuming service's migration tests.

    Alembic's comparison (columns, types, nullability, indexes), plus primary keys (which it
    does not compare) named or made otherwise.
    """
    names = set(directory_metadata.tables)

    def ours(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
        if kind == "table":
            return name in names
        table = getattr(obj, "table", None)
        return table is None or table.name in names

    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": ours}
    )
    differences: list[object] = list(compare_metadata(context, directory_metadata))
    inspector = sa.inspect(connection)
    for table in directory_metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue  # already reported as a missing table
        found = inspector.get_pk_constraint(table.name)
        wanted = table.primary_key
        if (found["name"], found["constrained_columns"]) != (
            wanted.name,
            list(wanted.columns.keys()),
        ):
            differences.append(("primary_key", table.name, found, wanted.name))
    return differences
