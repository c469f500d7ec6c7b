"""Checking an uploaded logo by its bytes, never by what the client says it is.

:func:`inspect_logo` tells PNG, JPEG and SVG apart by their content, refuses anything else
(naming what it found), refuses SVGs that could run script or fetch something, and refuses
rasters too large to decode safely. :func:`prove_renders` then prints the logo on a
one-page letterhead with the documents' own renderer: what passes renders on every document.

Each refusal is a :class:`LogoRejected` carrying its HTTP status (413, 415 or 422), which the
view turns into the error response.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from helpdesk_common.errors import DomainError
from helpdesk_documents import DocumentMeta, Organisation, render_pdf
from helpdesk_documents.pdf import RenderError
from identity.organisation.models import LogoMediaType

MAX_LOGO_BYTES = 256 * 1024
# A letterhead logo is printed 2 cm high; a larger raster is a decompression bomb risk
# (a 256 KiB PNG can hold 100 million pixels, several hundred MB once decoded).
MAX_LOGO_PIXELS = 4096 * 4096

PNG: LogoMediaType = "image/png"
JPEG: LogoMediaType = "image/jpeg"
SVG: LogoMediaType = "image/svg+xml"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"


class LogoRejected(DomainError):
    """The upload is not a logo we keep; ``status`` is the HTTP status to answer.

    No ``field``: the whole body is refused (a 422 ``invalid_logo`` thus differs from a
    field's ``validation_error`` by having no ``fields``)."""

    def __init__(self, status: int, code: str, message: str, **extra: object) -> None:
        super().__init__(code, message, extra=dict(extra))
        self.status = status


def too_large(size: int | None = None) -> LogoRejected:
    told = f" ({size} bytes)" if size is not None else ""
    return LogoRejected(
        413,
        "logo_too_large",
        f"The logo{told} is larger than the limit of {MAX_LOGO_BYTES} bytes (256 KiB)",
        max_bytes=MAX_LOGO_BYTES,
    )


def inspect_logo(data: bytes) -> LogoMediaType:
    """The logo's media type (PNG, JPEG or SVG) decided from ``data``, or a refusal."""
    if len(data) > MAX_LOGO_BYTES:
        raise too_large(len(data))
    if data.startswith(_PNG_SIGNATURE):
        _check_pixels(_png_size(data), "PNG")
        return PNG
    if data.startswith(_JPEG_SIGNATURE):
        _check_pixels(_jpeg_size(data), "JPEG")
        return JPEG
    text = _utf8(data)
    if text is not None and _root_element(text) == "svg":
        check_svg(text)
        return SVG
    detected = describe(data, text)
    raise LogoRejected(
        415,
        "unsupported_logo_type",
        f"The logo must be a PNG, JPEG or SVG image; this is {detected}",
        detected=detected,
    )


# -- what it is ---------------------------------------------------------------------------

# Magic numbers of what is most likely to be uploaded by mistake (or on purpose).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "a GIF image (image/gif)"),
    (b"GIF89a", "a GIF image (image/gif)"),
    (b"II*\x00", "a TIFF image (image/tiff)"),
    (b"MM\x00*", "a TIFF image (image/tiff)"),
    (b"\x00\x00\x01\x00", "an icon (image/x-icon)"),
    (b"%PDF-", "a PDF document (application/pdf)"),
    (b"PK\x03\x04", "a ZIP archive or office document (application/zip)"),
    (b"\x1f\x8b", "a gzip archive (application/gzip)"),
    (b"MZ", "a Windows executable (application/x-msdownload)"),
    (b"\x7fELF", "an ELF executable (application/x-executable)"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable (application/x-mach-binary)"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable (application/x-mach-binary)"),
    (b"\xca\xfe\xba\xbe", "a Mach-O or Java class file (application/octet-stream)"),
    (b"#!", "a script (text/x-shellscript)"),
)


def describe(data: bytes, text: str | None = None) -> str:
    """What ``data`` looks like, in words and a media type, for the 415 message."""
    if not data:
        return "an empty body"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP image (image/webp)"
    if data[:2] == b"BM" and len(data) > 14:
        return "a BMP image (image/bmp)"
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if text is None:
        text = _utf8(data)
    if text is None:
        return "binary data of an unknown type (application/octet-stream)"
    root = _root_element(text)
    if root == "html" or re.match(r"\s*<!doctype\s+html", text, re.IGNORECASE):
        return "an HTML document (text/html)"
    if root is not None:
        return f"XML whose root element is <{root}> (application/xml)"
    return "text (text/plain)"


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


_ELEMENT_NAME = re.compile(r"<([A-Za-z_][\w.:-]*)")


def _root_element(text: str) -> str | None:
    """The local name (lower case) of the first element, if ``text`` starts like XML: after
    the XML declaration, comments, processing instructions and a document type declaration.

    A plain scan rather than one regular expression: no input can make it backtrack.
    """
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if text.startswith("<?", position):
            end = text.find("?>", position + 2)
            position = -1 if end < 0 else end + 2
        elif text.startswith("<!--", position):
            end = text.find("-->", position + 4)
            position = -1 if end < 0 else end + 3
        elif text[position : position + 9].upper() == "<!DOCTYPE":
            close = text.find(">", position)
            subset = text.find("[", position)
            if 0 <= subset < close:  # an internal subset may hold ">" of its own
                end = text.find("]", subset)
                close = -1 if end < 0 else text.find(">", end)
            position = -1 if close < 0 else close + 1
        else:
            match = _ELEMENT_NAME.match(text, position)
            return match.group(1).rpartition(":")[2].lower() if match else None
        if position < 0:
            return None


# -- raster sizes -------------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int]:
    # The first chunk of every PNG is IHDR: width and height come first in it.
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise _invalid("a PNG must begin with its IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# Start-of-frame markers (the ones holding the image size): C0-CF except C4, C8 and CC.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the first frame header; None if not found (the render decides)."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            position += 2
            continue
        if marker == 0xDA:  # the image data starts: no frame header before it
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _SOF_MARKERS:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None


def _check_pixels(size: tuple[int, int] | None, kind: str) -> None:
    if size is None:
        return
    width, height = size
    if width * height > MAX_LOGO_PIXELS:
        raise _invalid(
            f"the {kind} is {width} x {height} pixels; a logo may have at most "
            f"{MAX_LOGO_PIXELS} pixels (e.g. 4096 x 4096)"
        )


def _invalid(reason: str) -> LogoRejected:
    return LogoRejected(422, "invalid_logo", f"The logo cannot be used: {reason}")


# -- SVG safety ---------------------------------------------------------------------------

# Elements that run script, embed other documents or handle events.
_FORBIDDEN_ELEMENTS = frozenset(
    {"script", "foreignobject", "handler", "listener", "iframe", "embed", "object"}
)
# Checked on the text as uploaded, before parsing: each is refused wherever it appears.
_FORBIDDEN_TEXT: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"<\s*+(?:[\w.-]++:)?script\b", re.IGNORECASE), "a <script> element"),
    (
        re.compile(r"<\s*+(?:[\w.-]++:)?foreignObject\b", re.IGNORECASE),
        "a <foreignObject> element",
    ),
    (re.compile(r"(?:java|vb)\s*+script\s*+:", re.IGNORECASE), "a javascript: URL"),
    (re.compile(r"<!ENTITY", re.IGNORECASE), "an entity declaration"),
    (re.compile(r"<\?xml-stylesheet", re.IGNORECASE), "an external style sheet"),
    (re.compile(r"@import", re.IGNORECASE), "a CSS @import"),
    (re.compile(r"expression\s*\(", re.IGNORECASE), "a CSS expression()"),
)
# url(...) in CSS or presentation attributes that leaves the document.
# (Possessive quantifiers: a long run of spaces cannot make the search backtrack.)
_EXTERNAL_CSS_URL = re.compile(r"""url\(\s*+['"]?+\s*+(?!#|data:image/)""", re.IGNORECASE)
# Whitespace and control characters a browser drops from a URL before reading its scheme.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")


def check_svg(text: str) -> None:
    """Refuse (415 ``unsafe_svg``) an SVG that could run script or load anything external;
    an SVG that is not well-formed XML is a 422 ``invalid_logo``."""
    for pattern, what in _FORBIDDEN_TEXT:
        if pattern.search(text):
            raise _unsafe(what)
    if _EXTERNAL_CSS_URL.search(text):
        raise _unsafe("a CSS url() pointing outside the document")
    try:
        root = ET.fromstring(text)  # noqa: S314 - no entities reach the parser (refused above)
    except ET.ParseError as exc:
        raise _invalid(f"the SVG is not well-formed XML ({exc})") from exc
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = _local(element.tag)
        if name in _FORBIDDEN_ELEMENTS:
            raise _unsafe(f"a <{name}> element")
        for attribute, value in element.attrib.items():
            _check_attribute(_local(attribute), value)


def _check_attribute(name: str, value: str) -> None:
    if name.startswith("on"):
        raise _unsafe(f"an event-handler attribute ({name})")
    compact = _URL_NOISE.sub("", value).lower()
    if "javascript:" in compact or "vbscript:" in compact:
        raise _unsafe("a javascript: URL")
    if name in ("href", "src") and not (
        compact.startswith("#") or compact.startswith("data:image/")
    ):
        shown = value.strip()[:80]
        raise _unsafe(f"an external reference ({name}={shown!r})")


def _local(name: str) -> str:
    """``{namespace}local`` or ``local`` -> ``local``, lower case."""
    return name.rpartition("}")[2].lower()


def _unsafe(what: str) -> LogoRejected:
    return LogoRejected(
        415,
        "unsafe_svg",
        f"The SVG contains {what}; a logo may hold shapes, text and embedded images only",
        found=what,
    )


# -- proof by rendering -------------------------------------------------------------------


async def prove_renders(*, logo: bytes, media_type: LogoMediaType, name: str, by: str) -> None:
    """Print ``logo`` on a one-page letterhead; a failure is a 422 ``invalid_logo``."""
    meta = DocumentMeta(
        title="Logo",
        organisation=Organisation(name=name, logo=logo, logo_media_type=media_type),
        generated_at=datetime.now(UTC),
        generated_by=by,
    )
    try:
        await render_pdf("", meta=meta, data={})
    except RenderError as exc:
        reason = getattr(exc.__cause__, "message", None) or str(exc).splitlines()[0]
        raise _invalid(f"it does not render ({reason})") from exc
