"""HTTP headers for downloads, shared by every service that serves a file."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def content_disposition(
    filename: str, disposition: Literal["attachment", "inline"] = "attachment"
) -> str:
    """``Content-Disposition`` with an ASCII fallback name and the exact UTF-8 name
    (RFC 6266 / RFC 5987: Indonesian names intact), safe from header injection."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = _UNSAFE.sub("_", ascii_name).strip("._") or "document"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def attachment_disposition(filename: str) -> str:
    """``Content-Disposition: attachment`` (the browser saves the file, never shows it)."""
    return content_disposition(filename, "attachment")
