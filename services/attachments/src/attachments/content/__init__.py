"""Content inspection of uploads: type by content, archive checks, names, metadata, previews.

Plain synchronous functions on files on disk, meant to run in worker threads; refusals are
``helpdesk_common.errors`` domain errors with ``field="file"``.
"""

from attachments.content.archive import inspect_archive
from attachments.content.metadata import strip_metadata
from attachments.content.names import sanitise_filename
from attachments.content.thumbnails import make_thumbnail
from attachments.content.types import (
    CATALOGUE,
    DEFAULT_ALLOWED,
    Detected,
    FileType,
    classify,
    detect,
    detect_buffer,
    validate_names,
)

__all__ = [
    "CATALOGUE",
    "DEFAULT_ALLOWED",
    "Detected",
    "FileType",
    "classify",
    "detect",
    "detect_buffer",
    "inspect_archive",
    "make_thumbnail",
    "sanitise_filename",
    "strip_metadata",
    "validate_names",
]
