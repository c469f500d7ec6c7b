"""Local copy of users and units, kept from identity events."""
