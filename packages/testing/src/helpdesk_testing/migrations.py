"""Does a service's migrated schema match its models? (the messaging and idempotency
tables, which helpdesk_common creates, are left out)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

MESSAGING_TABLES = frozenset({"outbox", "inbox", "idempotency_keys", "alembic_version"})


def _compared(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    if kind == "table":
        return name not in MESSAGING_TABLES
    if kind == "index":
        return obj.table.name not in MESSAGING_TABLES
    return True


def model_differences(connection: Connection, metadata: sa.MetaData) -> list[Any]:
    """Alembic's differences between ``metadata`` and the database (run with
    ``connection.run_sync(model_differences, metadata)``); ``[]`` when they match."""
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": _compared,
        },
    )
    return list(compare_metadata(context, metadata))
