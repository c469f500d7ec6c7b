"""SMTP settings managed by an administrator."""
