"""Retry-safe writes: the ``Idempotency-Key`` store every service keeps in its own schema.

A create or change request that carries an ``Idempotency-Key`` records the key, a
fingerprint of the request and the response it got, in the same transaction as the work:
a repeat within the retention window replays that response without doing the work again.
"""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

idempotency_metadata = sa.MetaData()

idempotency_keys_table = sa.Table(
    "idempotency_keys",
    idempotency_metadata,
    # Whose key: the caller's user id (keys are per caller, as at Stripe).
    sa.Column("principal", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    # sha256 of the method, path and body: the same key with another request is refused.
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("status_code", sa.SmallInteger, nullable=False),
    sa.Column("headers", pg.JSONB, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

sa.Index("ix_idempotency_keys_created_at", idempotency_keys_table.c.created_at)


class _MigrationContext(Protocol):
    def get_bind(self) -> Connection: ...


def create_idempotency_table(op: _MigrationContext) -> None:
    """Called from a service's migration: the ``idempotency_keys`` table in its schema."""
    idempotency_metadata.create_all(op.get_bind())


def drop_idempotency_table(op: _MigrationContext) -> None:
    idempotency_metadata.drop_all(op.get_bind())
