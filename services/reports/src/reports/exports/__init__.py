"""Every report as a download: CSV (streamed) and PDF (the organisation's letterhead,
tables and charts); :func:`render_report_pdf` also serves the scheduled reports."""

from reports.exports.documents import RenderedReport, ReportKind, render_report_pdf

__all__ = ["RenderedReport", "ReportKind", "render_report_pdf"]
