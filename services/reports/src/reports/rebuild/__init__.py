"""Rebuilding the read model from the tickets service, while events keep flowing."""
