"""HTTP headers for downloads."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def attachment_disposition(filename: str) -> str:
    """``Content-Disposition: attachment`` with an ASCII fallback name and the exact UTF-8
    name (RFC 6266 / RFC 5987), safe from header injection."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = _UNSAFE.sub("_", ascii_name).strip("._") or "document"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
