"""The read model: one row of facts per ticket and rollups of them, fed by ticket events."""
