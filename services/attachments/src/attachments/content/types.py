"""The file types the service knows, and telling a file's type by its content.

The name a client sends is never trusted for the type: libmagic reads the bytes. The only
place the extension counts is choosing between two text types (CSV or plain text), since
libmagic cannot always tell a CSV from any other text (a semicolon-separated export from a
spreadsheet set to Bahasa Indonesia is "text/plain" to it).
"""

from __future__ import annotations

import re
import threading
import zipfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import magic

from helpdesk_common.errors import InvalidInput, UnsupportedType


@dataclass(frozen=True)
class FileType:
    name: str  # short name used in config, e.g. "jpg"
    media_type: str
    extensions: tuple[str, ...]
    inline: bool  # may be served inline (raster images and PDF only; never SVG/HTML)
    image: bool  # raster image we can thumbnail
    archive: bool  # zip container to inspect (see archive.inspect_archive)


@dataclass(frozen=True)
class Detected:
    media_type: str
    description: str


_OOXML = "application/vnd.openxmlformats-officedocument"
_ODF = "application/vnd.oasis.opendocument"

_TYPES = (
    FileType(
        "jpg", "image/jpeg", (".jpg", ".jpeg", ".jpe"), inline=True, image=True, archive=False
    ),
    FileType("png", "image/png", (".png",), inline=True, image=True, archive=False),
    FileType("gif", "image/gif", (".gif",), inline=True, image=True, archive=False),
    FileType("webp", "image/webp", (".webp",), inline=True, image=True, archive=False),
    FileType("pdf", "application/pdf", (".pdf",), inline=True, image=False, archive=False),
    FileType(
        "docx",
        f"{_OOXML}.wordprocessingml.document",
        (".docx",),
        inline=False,
        image=False,
        archive=True,
    ),
    FileType(
        "xlsx", f"{_OOXML}.spreadsheetml.sheet", (".xlsx",), inline=False, image=False, archive=True
    ),
    FileType(
        "pptx",
        f"{_OOXML}.presentationml.presentation",
        (".pptx",),
        inline=False,
        image=False,
        archive=True,
    ),
    FileType("odt", f"{_ODF}.text", (".odt",), inline=False, image=False, archive=True),
    FileType("ods", f"{_ODF}.spreadsheet", (".ods",), inline=False, image=False, archive=True),
    FileType("txt", "text/plain", (".txt", ".log"), inline=False, image=False, archive=False),
    FileType("csv", "text/csv", (".csv",), inline=False, image=False, archive=False),
    FileType("zip", "application/zip", (".zip",), inline=False, image=False, archive=True),
)

CATALOGUE: dict[str, FileType] = {t.name: t for t in _TYPES}

DEFAULT_ALLOWED: tuple[str, ...] = ("jpg", "png", "pdf", "docx", "xlsx", "zip")

# What libmagic says -> catalogue name; a few spellings older libmagic versions use.
_BY_MEDIA_TYPE: dict[str, str] = {t.media_type: t.name for t in _TYPES} | {
    "image/pjpeg": "jpg",
    "application/x-zip-compressed": "zip",
    "application/x-zip": "zip",
    "application/csv": "csv",
}

# Text types among which the file's extension may choose (the content is text either way).
_TEXT_TYPES = ("txt", "csv")

# The main part of an OOXML package, read from [Content_Types].xml when libmagic only sees a
# zip (it recognises OOXML only when the package's entries come in Office's usual order).
_OOXML_MAIN_PARTS = {
    "wordprocessingml.document.main+xml": "docx",
    "spreadsheetml.sheet.main+xml": "xlsx",
    "presentationml.presentation.main+xml": "pptx",
}
_CONTENT_TYPES_MAX = 1024 * 1024

SNIFF_BYTES_MAX = 1024 * 1024
_local = threading.local()


def _sniffers() -> tuple[magic.Magic, magic.Magic]:
    # A libmagic handle must not be shared between threads: one pair per worker thread.
    sniffers: tuple[magic.Magic, magic.Magic] | None = getattr(_local, "sniffers", None)
    if sniffers is None:
        sniffers = (magic.Magic(mime=True), magic.Magic())
        for sniffer in sniffers:
            # libmagic reads up to 7 MiB of a file into memory by default, per call; the
            # signatures that tell our types apart sit in the first KBs (OOXML and ODF are
            # confirmed from the package itself below), so 1 MiB is plenty.
            sniffer.setparam(magic.MAGIC_PARAM_BYTES_MAX, SNIFF_BYTES_MAX)
        _local.sniffers = sniffers
    return sniffers


def detect(path: Path) -> Detected:
    """What libmagic says the file at ``path`` is."""
    mime, describe = _sniffers()
    return Detected(media_type=mime.from_file(str(path)), description=describe.from_file(str(path)))


def detect_buffer(data: bytes) -> Detected:
    """What libmagic says ``data`` (e.g. the first few KB of an archive entry) is."""
    mime, describe = _sniffers()
    return Detected(media_type=mime.from_buffer(data), description=describe.from_buffer(data))


def validate_names(allowed: Iterable[str]) -> tuple[str, ...]:
    """Normalise a configured allow-list (lower case, no duplicates, order kept)."""
    names = tuple(dict.fromkeys(name.strip().lower() for name in allowed if name.strip()))
    unknown = [name for name in names if name not in CATALOGUE]
    if unknown:
        raise ValueError(
            f"unknown file type(s) {', '.join(unknown)}; known: {', '.join(CATALOGUE)}"
        )
    if not names:
        raise ValueError("the list of accepted file types is empty")
    return names


def classify(path: Path, *, allowed: Collection[str], filename: str) -> FileType:
    """The file's type by its content, if it is on the allow-list.

    Raises ``InvalidInput("empty_file")`` (422) for an empty file and
    ``UnsupportedType("unsupported_type")`` (415), naming what the content is, otherwise.
    """
    detected = detect(path)
    if detected.media_type == "inode/x-empty":
        raise InvalidInput("empty_file", "The file is empty", field="file")
    name = _BY_MEDIA_TYPE.get(detected.media_type)
    if name == "zip":
        name = _office_kind(path) or name
    if name in _TEXT_TYPES:
        name = _text_kind(name, filename=filename, allowed=allowed)
    if name is None or name not in allowed:
        raise _unsupported(detected, allowed)
    return CATALOGUE[name]


def _text_kind(detected: str, *, filename: str, allowed: Collection[str]) -> str:
    # The content is text; the extension may pick another allowed text type (data.csv that
    # libmagic calls plain text). Nothing else is ever decided by the name.
    suffix = Path(filename.replace("\\", "/")).suffix.lower()
    for name in _TEXT_TYPES:
        if name in allowed and suffix in CATALOGUE[name].extensions:
            return name
    return detected


def _office_kind(path: Path) -> str | None:
    """OOXML or ODF by the package's own declaration, for a zip libmagic did not recognise."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = {info.filename: info for info in archive.infolist()}
            types = entries.get("[Content_Types].xml")
            if types is not None and types.file_size <= _CONTENT_TYPES_MAX:
                text = archive.read(types).decode("utf-8", "replace")
                for part, name in _OOXML_MAIN_PARTS.items():
                    if re.search(rf'ContentType="{re.escape(_OOXML)}\.{re.escape(part)}"', text):
                        return name
            mimetype = entries.get("mimetype")
            if mimetype is not None and mimetype.file_size <= 200:
                declared = archive.read(mimetype).decode("ascii", "replace").strip()
                odf = _BY_MEDIA_TYPE.get(declared)
                return odf if odf in ("odt", "ods") else None
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, ValueError):
        # Not readable as a package: it stays "zip", and inspect_archive says why.
        return None
    return None


def _unsupported(detected: Detected, allowed: Collection[str]) -> UnsupportedType:
    description = detected.description
    if len(description) > 80:
        description = description[:77] + "..."
    accepted = [name for name in CATALOGUE if name in allowed]
    return UnsupportedType(
        "unsupported_type",
        f"Files of type {detected.media_type} ({description}) are not accepted; "
        f"accepted: {', '.join(accepted)}",
        field="file",
        extra={"detected": detected.media_type, "allowed": accepted},
    )
