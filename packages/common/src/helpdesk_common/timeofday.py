"""A time of day on the office's clock (office hours, a digest's hour, a duty's start).

JSON Schema's ``format: time`` is RFC 3339's full-time, which requires an offset
(``07:30:00+07:00``), while these times are local to the office's time zone and written
without one (``07:30:00``). :data:`ClockTime` declares what is sent and accepted instead:
``HH:MM``, ``HH:MM:SS`` or ``HH:MM:SS.ffffff``, and refuses an offset and pydantic's lax
inputs (a number of seconds) with a 422.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
_CLOCK = re.compile(CLOCK_PATTERN)


def _clock_time(value: Any) -> Any:
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise PydanticCustomError("time_with_offset", "a time of day without an offset")
        return value
    if isinstance(value, str) and _CLOCK.match(value):
        return value
    raise PydanticCustomError("clock_time", "a time of day as HH:MM or HH:MM:SS")


ClockTime = Annotated[
    time,
    BeforeValidator(_clock_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": CLOCK_PATTERN,
            "description": "a time of day in the office's time zone, without an offset",
            "examples": ["07:30", "16:00:00"],
        }
    ),
]
