"""Small previews of raster images, as WebP."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from PIL import Image, ImageOps

log = logging.getLogger("attachments.content.thumbnails")

# Only these decoders are ever used: Image.open on an arbitrary upload would otherwise try
# every plugin Pillow has (EPS, for one, runs Ghostscript). SVG is never rasterised.
THUMBNAIL_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
_QUALITY = 80


def make_thumbnail(path: Path, *, size: int = 320) -> bytes | None:
    """A WebP at most ``size`` pixels on its longer side, upright; None when not possible.

    None for anything that is not a JPEG, PNG, GIF or WebP, for images over Pillow's
    decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``) and for images Pillow cannot
    decode: a missing preview must never fail an upload.
    """
    try:
        with Image.open(path, formats=THUMBNAIL_FORMATS) as image:
            return _thumbnail(image, size=size)
    except Exception as exc:  # untrusted input: any decoder failure only means no preview
        log.info("no thumbnail for %s: %s: %s", path.name, type(exc).__name__, exc)
        return None


def _thumbnail(image: Image.Image, *, size: int) -> bytes | None:
    # Image.open only warns between MAX_IMAGE_PIXELS and twice that; refuse from the limit.
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and image.width * image.height > limit:
        log.info("no thumbnail: %dx%d is over the pixel limit", image.width, image.height)
        return None
    # An RGB profile still describes the preview's colours; a CMYK or grey one would not.
    icc_profile = image.info.get("icc_profile") if image.mode in ("RGB", "RGBA", "P") else None
    if image.format == "JPEG":
        image.draft("RGB", (size, size))  # decode at 1/2, 1/4 or 1/8 scale when that suffices
    upright = ImageOps.exif_transpose(image)
    mode = "RGBA" if upright.has_transparency_data else "RGB"
    preview = upright.convert(mode) if upright.mode != mode else upright.copy()
    preview.thumbnail((size, size))
    out = io.BytesIO()
    preview.save(out, format="WEBP", quality=_QUALITY, icc_profile=icc_profile)
    return out.getvalue()
