"""A file's name as the client sent it, made safe to store, show and offer for download."""

from __future__ import annotations

import re
import unicodedata

# Control and format characters (NUL, newlines, RTL/LTR overrides, zero-width marks),
# surrogates (not encodable) and private-use characters.
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
# Not allowed in a Windows file name (the separators are gone already).
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_MAX_BYTES = 255  # most file systems' limit for one name, in UTF-8 bytes
_MAX_EXTENSION = 16  # a longer "extension" is part of the name


def sanitise_filename(raw: str, *, max_length: int = 180, fallback: str = "berkas") -> str:
    """The last part of ``raw`` without control characters, trimmed and length-limited.

    Letters of any script are kept; spaces before the extension go; an over-long name is cut
    in its stem so the extension survives; Windows' reserved device names (CON, NUL, ...)
    get a leading underscore; nothing left gives ``fallback``.
    """
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    # Tabs and line breaks separate words: they become spaces, other controls go.
    name = "".join(
        " " if ch.isspace() else ch
        for ch in name
        if ch.isspace() or unicodedata.category(ch) not in _REMOVED_CATEGORIES
    )
    name = _WINDOWS_FORBIDDEN.sub("_", name)
    name = " ".join(name.split())
    name = name.lstrip(".").rstrip(". ").lstrip()
    if not name:
        return fallback
    if name.split(".")[0].rstrip().upper() in _RESERVED:
        name = "_" + name
    return _shorten(name, max_length=max_length) or fallback


def _shorten(name: str, *, max_length: int) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > _MAX_EXTENSION or " " in extension:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    while stem and _too_long(stem + suffix, max_length=max_length):
        # Cut most of the excess at once, then character by character for multi-byte text.
        excess = max(len(stem + suffix) - max_length, 1)
        stem = stem[: len(stem) - excess] if excess > 1 else stem[:-1]
    stem = stem.rstrip(". ")
    if not stem:
        return ""
    return unicodedata.normalize("NFC", stem + suffix)


def _too_long(name: str, *, max_length: int) -> bool:
    return len(name) > max_length or len(name.encode("utf-8")) > _MAX_BYTES
