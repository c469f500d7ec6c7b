"""Removing what an image says about where and when it was taken, without re-encoding it.

A photo of a broken printer should not tell everyone with access to the ticket where its
taker lives. The pixels are never decoded and re-encoded (no quality loss, no surprises):
the container's metadata segments are dropped and everything else is copied byte for byte.

- JPEG: APP1 (Exif, XMP), APP13 (IPTC / Photoshop) and COM segments go; a minimal Exif with
  only the Orientation tag is written back when the photo was rotated, so it still shows the
  right way up. Whatever follows the image's EOI (extra MPF images such as depth or gain
  maps, which carry their own Exif, or anything appended) goes too, with the APP2 MPF index
  that pointed at it.
- PNG: eXIf, tEXt, iTXt (XMP), zTXt and tIME chunks go (orientation kept as for JPEG), as
  does anything after IEND.
- WebP: the extended format's EXIF and XMP chunks go (orientation kept as for JPEG) and the
  VP8X header's flags follow; the simple format carries no metadata.
- GIF, and every non-image type, are left as they are (GIF has no location metadata; an XMP
  application extension would stay). PDFs and office documents keep their document
  properties (author and the like): they are not location data.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path

from PIL import Image

from attachments.content.types import FileType
from helpdesk_common.errors import InvalidInput

_ORIENTATION = 0x0112
_JPEG_DROPPED = {0xE1, 0xED, 0xFE}  # APP1, APP13, COM
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DROPPED = {b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"tIME"}
_WEBP_DROPPED = {b"EXIF", b"XMP "}
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04
_PILLOW_FORMAT = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}


def strip_metadata(path: Path, file_type: FileType) -> bool:
    """Rewrite the file at ``path`` without its metadata; True if anything was removed.

    Raises ``InvalidInput("invalid_image")`` (422) when the image's structure cannot be
    walked or the result does not open.
    """
    stripper = {"jpg": _strip_jpeg, "png": _strip_png, "webp": _strip_webp}.get(file_type.name)
    if stripper is None:
        return False
    original = path.read_bytes()
    try:
        stripped = stripper(original)
    except (ValueError, IndexError, struct.error) as exc:
        raise _invalid(f"the {file_type.name} file's structure is damaged ({exc})") from exc
    if stripped == original:
        return False
    _replace(path, stripped, pillow_format=_PILLOW_FORMAT[file_type.name])
    return True


def _replace(path: Path, data: bytes, *, pillow_format: str) -> None:
    # Write next to the original (same file system), check it, then swap it in atomically.
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        try:
            with Image.open(temporary, formats=[pillow_format]) as image:
                image.verify()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise _invalid(
                f"the image does not open after its metadata was removed ({exc})"
            ) from exc
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _invalid(why: str) -> InvalidInput:
    return InvalidInput("invalid_image", f"The image cannot be processed: {why}", field="file")


def _orientation(data: bytes) -> int | None:
    """The Orientation tag of Exif data (TIFF, with or without the "Exif" header)."""
    exif = Image.Exif()
    try:
        exif.load(data)  # with or without the "Exif\0\0" header
    except (OSError, SyntaxError, ValueError, struct.error, KeyError, IndexError):
        return None  # unreadable Exif: nothing to keep
    value = exif.get(_ORIENTATION)
    return value if isinstance(value, int) and 2 <= value <= 8 else None


def _minimal_exif(orientation: int) -> bytes:
    """Exif holding only the orientation, with the "Exif\\0\\0" header."""
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    return exif.tobytes()


# JPEG


def _strip_jpeg(data: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("no JPEG start marker")
    out = [data[:2]]
    pos, orientation, exif_at = 2, None, None
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at offset {pos}")
        while pos + 1 < len(data) and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI: the image ends here
            out.append(data[pos : pos + 2])
            break
        if marker in _JPEG_STANDALONE:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise ValueError(f"segment {marker:#x} runs past the end")
        segment = data[pos:end]
        payload = segment[4:]
        if marker == 0xE1 and payload.startswith(b"Exif\x00\x00") and exif_at is None:
            orientation, exif_at = _orientation(payload), len(out)
        if not (marker in _JPEG_DROPPED or (marker == 0xE2 and payload.startswith(b"MPF\x00"))):
            out.append(segment)
        pos = end
        if marker == 0xDA:  # SOS: entropy-coded data follows up to the next real marker
            scan_end = _scan_end(data, pos)
            out.append(data[pos:scan_end])
            pos = scan_end
    if orientation is not None and exif_at is not None:
        app1 = _minimal_exif(orientation)
        out.insert(exif_at, b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1)
    return b"".join(out)


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data that starts at ``pos`` ends (the next marker)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)  # truncated scan: keep it as it is
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte, restart marker
            pos += 2
        elif following == 0xFF:  # fill byte before a marker
            pos += 1
        else:
            return pos


# PNG


def _strip_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    out = [_PNG_SIGNATURE]
    pos, orientation, exif_at = len(_PNG_SIGNATURE), None, None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise ValueError(f"chunk {kind!r} runs past the end")
        if kind == b"eXIf" and exif_at is None:
            orientation, exif_at = _orientation(data[pos + 8 : pos + 8 + length]), len(out)
        if kind not in _PNG_DROPPED:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    if orientation is not None and exif_at is not None:
        tiff = _minimal_exif(orientation)[6:]
        chunk = b"eXIf" + tiff
        out.insert(
            exif_at, struct.pack(">I", len(tiff)) + chunk + struct.pack(">I", zlib.crc32(chunk))
        )
    return b"".join(out)


# WebP


def _strip_webp(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF WEBP header")
    chunks: list[tuple[bytes, bytes]] = []
    pos, end_of_riff = 12, min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    while pos + 8 <= end_of_riff:
        kind, size = struct.unpack("<4sI", data[pos : pos + 8])
        if pos + 8 + size > end_of_riff:
            raise ValueError(f"chunk {kind!r} runs past the end")
        chunks.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    if not chunks or chunks[0][0] != b"VP8X":
        return data  # the simple format (VP8 / VP8L alone) has no metadata chunks
    orientation = next((_orientation(body) for kind, body in chunks if kind == b"EXIF"), None)
    kept = [(kind, body) for kind, body in chunks if kind not in _WEBP_DROPPED]
    flags = kept[0][1][0] & ~(_VP8X_EXIF | _VP8X_XMP)
    if orientation is not None:
        flags |= _VP8X_EXIF
        kept.append((b"EXIF", _minimal_exif(orientation)[6:]))  # EXIF goes after the image
    kept[0] = (b"VP8X", bytes([flags]) + kept[0][1][1:])
    body = b"".join(
        struct.pack("<4sI", kind, len(chunk)) + chunk + b"\x00" * (len(chunk) & 1)
        for kind, chunk in kept
    )
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
