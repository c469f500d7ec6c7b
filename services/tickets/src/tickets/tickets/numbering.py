"""Human-readable ticket numbers (``TKT-2026-000123``) from one PostgreSQL sequence per year.

The create path draws the next value with the unit's name in one cheap statement
(``store.draw_number``) before it builds the ticket and its event. A sequence hands out
numbers without any lock held for the transaction, so parallel creates never wait on each
other; the price is that a failed create leaves a gap, which is acceptable for a
reference number. The year's sequence is created on first use (and for
the current and next year at start-up) under an advisory lock, outside the request's
transaction.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.convertors import Convertor, register_url_convertor

NUMBER_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*-\d{4}-\d{1,12}$")
UUID_PATTERN = r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}"
# What a path's ticket reference may be (parse_ref reads it), matched by the routes'
# convertor and declared in the OpenAPI document.
TICKET_REF_REGEX = rf"(?:{UUID_PATTERN}|[A-Za-z][A-Za-z0-9]*-[0-9]{{4}}-[0-9]{{1,12}})"
TICKET_REF_PATTERN = rf"^{TICKET_REF_REGEX}$"


class TicketRefConvertor(Convertor[str]):
    """``{ticket_id:ticket_ref}``: only a ticket's UUID or number matches, so that
    ``/tickets/count``, ``/tickets/bulk`` and ``/tickets/export.csv`` are never taken for a
    ticket (another method on them is a 405 with its ``Allow``, not a 422 for a malformed
    reference) and a path with anything else is a 404. The value stays text: parse_ref
    tells a UUID from a number."""

    regex = TICKET_REF_REGEX

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("ticket_ref", TicketRefConvertor())
# The path of one ticket, for every route under it (importing it registers the convertor
# before any route is compiled).
TICKET_PATH = "/tickets/{ticket_id:ticket_ref}"


def sequence_name(year: int) -> str:
    return f"ticket_number_{year}"


class TicketNumbers:
    def __init__(self, engine: AsyncEngine, *, prefix: str, timezone: str, schema: str) -> None:
        self._engine = engine
        self._prefix = prefix
        self._timezone = ZoneInfo(timezone)
        self._schema = schema
        self._ready: set[int] = set()

    def year_of(self, instant: datetime) -> int:
        return instant.astimezone(self._timezone).year

    def prefix_for(self, year: int) -> str:
        """What the year's numbers start with (``TKT-2026-``); the digits follow."""
        return f"{self._prefix}-{year}-"

    def number(self, year: int, value: int) -> str:
        """The number for the year's sequence ``value``: at least six digits
        (``TKT-2026-000123``), more once a year passes a million tickets."""
        return f"{self.prefix_for(year)}{value:06d}"

    async def sequence_for(self, year: int) -> str:
        """The name of the year's sequence, created if this process has not seen it yet."""
        if year not in self._ready:
            await self.ensure(year)
        return sequence_name(year)

    async def ensure(self, *years: int) -> None:
        async with self._engine.begin() as connection:
            # Two replicas creating the same sequence at once would collide in the catalog.
            lock = zlib.crc32(f"ticket-numbers:{self._schema}".encode())
            await connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
            for year in years:
                await connection.execute(
                    sa.text(f'CREATE SEQUENCE IF NOT EXISTS "{sequence_name(int(year))}"')
                )
        self._ready.update(years)
