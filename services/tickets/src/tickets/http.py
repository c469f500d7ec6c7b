"""HTTP details shared by the routers: versions from If-Match, ETags."""

from __future__ import annotations

from helpdesk_common.errors import ApiError
from helpdesk_common.inputs import INT4_MAX


def version_from_if_match(value: str | None) -> int | None:
    """``If-Match: "7"`` (or ``W/"7"``, or ``7``) -> 7; ``*`` or absent -> no condition."""
    if value is None:
        return None
    tag = value.strip()
    if tag in ("", "*"):
        return None
    tag = tag.removeprefix("W/").strip('"')
    try:
        version = int(tag)
        # No version past the column's type exists (and the database would refuse it).
        if not 0 <= version <= INT4_MAX:
            raise ValueError(tag)
        return version
    except ValueError:
        raise ApiError(
            412,
            "version_mismatch",
            "If-Match does not name a version of this ticket (use its ETag)",
            field="If-Match",
        ) from None


def expected_version(header: str | None, body_version: int | None) -> int | None:
    from_header = version_from_if_match(header)
    return from_header if from_header is not None else body_version


def etag(version: int) -> str:
    return f'"{version}"'
