"""One copy of identity's users and units per consuming service, kept from identity's events.

- :mod:`.models`: the ``users``, ``units`` and ``organisation`` tables (in the service's own
  schema) mapped to :class:`DirectoryUser`, :class:`DirectoryUnit` and
  :class:`DirectoryOrganisation`; :func:`create_directory_tables` for a
  migration, :func:`include_directory_tables` for a metadata that refers to them,
  :func:`directory_schema_differences` for a service's migration test;
- :mod:`.service`: order-safe upserts from identity's snapshots and the shared lookups;
- :mod:`.excerpt`: what one event's recipients need, in one round trip;
- :mod:`.consumer`: :func:`directory_consumer`, the consumer ``<service>.directory``.
"""

from helpdesk_common.directory.consumer import directory_consumer, directory_consumer_name
from helpdesk_common.directory.excerpt import (
    DirectoryExcerpt,
    KnownUnit,
    KnownUser,
    directory_excerpt,
    directory_rows,
)
from helpdesk_common.directory.models import (
    DirectoryOrganisation,
    DirectoryUnit,
    DirectoryUser,
    create_directory_tables,
    directory_metadata,
    directory_schema_differences,
    include_directory_tables,
)
from helpdesk_common.directory.service import (
    active_users,
    directory_standing,
    list_units,
    organisation,
    upsert_organisation,
    upsert_unit,
    upsert_user,
    users_by_id,
)

__all__ = [
    "DirectoryExcerpt",
    "DirectoryOrganisation",
    "DirectoryUnit",
    "DirectoryUser",
    "KnownUnit",
    "KnownUser",
    "active_users",
    "create_directory_tables",
    "directory_consumer",
    "directory_consumer_name",
    "directory_excerpt",
    "directory_metadata",
    "directory_rows",
    "directory_schema_differences",
    "directory_standing",
    "include_directory_tables",
    "list_units",
    "organisation",
    "upsert_organisation",
    "upsert_unit",
    "upsert_user",
    "users_by_id",
]
