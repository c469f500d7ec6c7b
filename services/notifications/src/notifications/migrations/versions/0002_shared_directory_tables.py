"""The directory takes the shared shape (helpdesk_common.directory): ``directory_users`` and
``directory_units`` become ``users`` and ``units`` with the primary-key column ``id``.

Renames only: the rows, column types (TEXT, BIGINT revisions) and the index's columns stay;
constraint and index names follow the tables' new names.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-12
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (old table, old key column, new table)
_TABLES = (("directory_users", "user_id", "users"), ("directory_units", "unit_id", "units"))
_INDEXES = (("ix_directory_users_role_active", "ix_users_role_is_active"),)


def _rename(
    tables: Sequence[tuple[str, str, str, str]], indexes: Sequence[tuple[str, str]]
) -> None:
    for table, key, new_table, new_key in tables:
        op.rename_table(table, new_table)
        op.alter_column(new_table, key, new_column_name=new_key)
        # The primary key's index is renamed with it.
        op.execute(f"ALTER TABLE {new_table} RENAME CONSTRAINT pk_{table} TO pk_{new_table}")
    for index, new_index in indexes:
        op.execute(f"ALTER INDEX {index} RENAME TO {new_index}")


def upgrade() -> None:
    _rename([(old, key, new, "id") for old, key, new in _TABLES], _INDEXES)


def downgrade() -> None:
    _rename(
        [(new, "id", old, key) for old, key, new in _TABLES],
        [(new, old) for old, new in _INDEXES],
    )
