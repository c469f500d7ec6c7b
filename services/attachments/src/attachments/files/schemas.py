"""Request and response models of the files API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from helpdesk_common.contracts.attachments import AttachmentKind, ScanStatus


class Uploader(BaseModel):
    id: uuid.UUID
    name: str
    role: str


class AttachmentOut(BaseModel):
    id: uuid.UUID
    ticket_id: uuid.UUID
    kind: AttachmentKind
    filename: str
    media_type: str
    # The short type name of the allow-list (jpg, pdf, docx, ...).
    type: str
    size: int
    sha256: str
    scan_status: ScanStatus
    # The malware the scanner found (staff only; null otherwise).
    scan_signature: str | None = None
    # Whether this caller may download it now (not quarantined; scanned, or staff).
    downloadable: bool
    # Shown in the browser (raster images and PDF) rather than saved.
    inline: bool
    has_thumbnail: bool
    metadata_stripped: bool
    uploaded_by: Uploader
    uploaded_at: datetime
    content_url: str
    thumbnail_url: str | None = None


class FileTypeOut(BaseModel):
    name: str
    media_type: str
    extensions: list[str]


class PolicyOut(BaseModel):
    """What the service accepts, for clients to check files before sending them."""

    allowed_types: list[FileTypeOut]
    max_file_bytes: int
    max_files_per_ticket: int
    max_ticket_bytes: int
    scan_enabled: bool
    delete_policy: Literal["uploader_or_admin", "admin"]
    # The kinds this caller may upload.
    kinds: list[AttachmentKind]
