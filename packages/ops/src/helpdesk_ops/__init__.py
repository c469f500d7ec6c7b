"""Operator tools: backup, restore and retention of the whole helpdesk (docs/operations.md)."""
