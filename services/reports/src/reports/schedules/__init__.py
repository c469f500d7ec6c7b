"""Scheduled reports: PDFs e-mailed every week or month (see the README)."""
