"""The organisation's identity printed on every document (seed 004 §3.6: "identitas")."""

from __future__ import annotations

from pydantic import BaseModel, Field

# What a document shows when no administrator has set the identity yet.
DEFAULT_NAME = "Layanan Helpdesk TIK"


class Organisation(BaseModel):
    """Name, address and contact lines of the letterhead, and the logo (PNG, JPEG or SVG)."""

    name: str = DEFAULT_NAME
    # The line above the name on an Indonesian letterhead, e.g. "PEMERINTAH KOTA ...".
    parent_name: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    logo: bytes | None = Field(default=None, repr=False)
    logo_media_type: str | None = None

    def letterhead(self) -> dict[str, object]:
        """What the typst templates read (the logo as a list of byte values)."""
        contact = " · ".join(part for part in (self.phone, self.email, self.website) if part)
        return {
            "name": self.name,
            "parent_name": self.parent_name,
            "address": self.address,
            "contact": contact or None,
            "logo": list(self.logo) if self.logo else None,
            "logo_format": _typst_format(self.logo_media_type),
        }


def _typst_format(media_type: str | None) -> str | None:
    return {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}.get(media_type or "")
