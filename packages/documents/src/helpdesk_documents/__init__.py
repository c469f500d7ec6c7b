"""Documents every service produces the same way: PDFs with the organisation's letterhead
(typst, in a worker thread), CSV streamed with a BOM, charts as SVG, labels in Bahasa
Indonesia and English."""

from helpdesk_documents.csvstream import CSV_MEDIA_TYPE, csv_chunks, safe_cell
from helpdesk_documents.http import attachment_disposition
from helpdesk_documents.labels import format_date, format_datetime, format_duration, label
from helpdesk_documents.organisation import Organisation
from helpdesk_documents.pdf import PDF_MEDIA_TYPE, DocumentMeta, render_pdf, render_pdf_sync

__all__ = [
    "CSV_MEDIA_TYPE",
    "PDF_MEDIA_TYPE",
    "DocumentMeta",
    "Organisation",
    "attachment_disposition",
    "csv_chunks",
    "format_date",
    "format_datetime",
    "format_duration",
    "label",
    "render_pdf",
    "render_pdf_sync",
    "safe_cell",
]
