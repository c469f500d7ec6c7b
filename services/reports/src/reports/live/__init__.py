"""Live dashboards: the read model's changes pushed to browsers as server-sent events."""
